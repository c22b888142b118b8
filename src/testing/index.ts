// `mikro-orm-rls/testing`: checks of the policies as the application role, for Jest, Vitest and node:test
// (plain async functions that throw node's AssertionError), and fixtures to seed and connect.
export {
  expectCanSelect,
  expectCannotSelect,
  expectCanInsert,
  expectCannotInsert,
  expectCanUpdate,
  expectCannotUpdate,
  expectCanDelete,
  expectCannotDelete,
  expectBypassSeesEverything,
  expectNoContextSeesNothing,
  type RlsCheckedOrm,
  type RlsCheckOn,
  type RlsRows,
  type RowId,
} from './policy-checks';
export { RlsPolicyAssertionError } from './policy-assertion-error';
export type { AppliedPolicy } from './applicable-policies';
export { seedAsOwner, initAppOrm } from './fixtures';

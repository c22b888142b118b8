import { AssertionError } from 'node:assert';

/**
 * A failed policy check: node's AssertionError (what Jest, Vitest and node:test print with a diff of
 * `expected` and `actual`), whose message says what was expected, what happened and which policies apply.
 *
 * @example
 * try {
 *   await expectCannotSelect(orm, { as: { account_id: 1 }, entity: Item, ids: [3] });
 * } catch (error) {
 *   if (error instanceof RlsPolicyAssertionError) console.log(error.policies.map((p) => p.name));
 * }
 */
export class RlsPolicyAssertionError extends AssertionError {
  constructor(
    message: string,
    expected: unknown,
    actual: unknown,
    /** The policies that apply to the table and command, from pg_policies. */
    readonly policies: readonly import('./applicable-policies').AppliedPolicy[],
  ) {
    super({ message, expected, actual, operator: 'policy check' });
    this.name = 'RlsPolicyAssertionError';
  }
}

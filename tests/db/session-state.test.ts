import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// Raw SQL in a scoped fork that changes session state for good (SET ROLE, set_config(..., false), SET
// without LOCAL) must not reach the next user of the pooled connection. One pooled connection, so the
// next request reuses the same backend.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());

const tenant1 = () => t.app.em.forkWithRls({ account_id: 1 });

async function nextUsersAreUnaffected() {
  const [state] = await t.app.em.fork().execute(`select pg_backend_pid() as pid, current_setting('role') as role, coalesce(current_setting('rls.account_id', true), '') as account`);
  expect({ role: state.role, account: state.account }).toEqual({ role: 'none', account: '' });
  expect(ids(await t.app.em.fork().find(Project, {}))).toEqual([]);
  expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  return state.pid as number;
}

const SESSION_CHANGES = [
  ['SET ROLE to the bypass role', `set role rls_test_bypass`],
  ['set_config of the role, not local', `select set_config('role', 'rls_test_bypass', false)`],
  ['set_config of a context variable, not local', `select set_config('rls.account_id', '1', false)`],
  ['SET of a context variable without LOCAL', `set rls.account_id = '1'`],
];

it.each(SESSION_CHANGES)('%s in a scoped statement outside a transaction does not outlive it', async (_label, sql) => {
  const before = await nextUsersAreUnaffected();
  await tenant1().execute(sql);
  expect(await nextUsersAreUnaffected()).toBe(before);
});

it.each(SESSION_CHANGES)('%s in a scoped transaction does not outlive its commit', async (_label, sql) => {
  const before = await nextUsersAreUnaffected();
  await tenant1().transactional(async (em) => {
    await em.find(Project, {});
    await em.execute(sql);
  });
  expect(await nextUsersAreUnaffected()).toBe(before);
});

it.each(SESSION_CHANGES)('%s in a bypass transaction does not outlive its commit', async (_label, sql) => {
  const before = await nextUsersAreUnaffected();
  await t.app.em.bypassRls(async (em) => {
    await em.execute(sql);
  });
  expect(await nextUsersAreUnaffected()).toBe(before);
});

it('results of a scoped statement are the caller\'s own, without the reset behind them', async () => {
  expect(await tenant1().execute(`select 1 as one`)).toEqual([{ one: 1 }]);
  expect(await tenant1().execute(`select 1 as one -- a trailing comment`)).toEqual([{ one: 1 }]);
});

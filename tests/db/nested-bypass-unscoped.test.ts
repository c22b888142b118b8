import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// bypassRls(cb, { propagation: 'nested' }) called from an UNSCOPED fork's transaction
// (orm.em.fork().transactional(...), e.g. a background job), found by the seventh review: the bypass step
// runs in a savepoint of a transaction that was opened without a scope, whose COMMIT and ROLLBACK carried
// no session reset, so session state the callback's raw SQL made for good (SET ROLE,
// set_config(..., false), temporary tables) stayed on the pooled connection for its next user. Now the
// step makes the transaction's end carry the reset. Pool of one: the next user gets the same backend.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());
beforeEach(() => freshBackends(t));


it('SET ROLE <bypass> made in a nested bypass step of an unscoped transaction does not reach the next users', async () => {
  // A running application: the one-time role check has already passed.
  expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
  await t.app.em.fork().transactional(async (tx) => {
    await tx.bypassRls((admin) => admin.execute(`set role ${t.db.roles.bypass}`), { propagation: 'nested' });
  });
  // The next tenant's first query: runs as the bypass role if the role stayed on the connection.
  expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
});

it('SET ROLE <bypass> made in a nested bypass step of an unscoped transaction: the next unscoped user is the application role', async () => {
  await t.app.em.fork().transactional(async (tx) => {
    await tx.bypassRls((admin) => admin.execute(`set role ${t.db.roles.bypass}`), { propagation: 'nested' });
  });
  const [who] = await t.app.em.fork().execute('select current_user as who');
  expect(who.who).toBe(t.db.roles.app);
  expect(ids(await t.app.em.fork().find(Project, {}))).toEqual([]);
});

it('a session-level context variable set in a nested bypass step of an unscoped transaction does not reach the next unscoped user', async () => {
  await t.app.em.fork().transactional(async (tx) => {
    await tx.bypassRls((admin) => admin.execute(`select set_config('rls.account_id', '1', false)`), { propagation: 'nested' });
  });
  expect(ids(await t.app.em.fork().find(Project, {}))).toEqual([]);
});

it('a temporary table made in a nested bypass step of an unscoped transaction does not shadow an entity table for the next tenant', async () => {
  await t.app.em.fork().transactional(async (tx) => {
    await tx.bypassRls((admin) => admin.execute(`create temp table projects as select * from public.projects`), { propagation: 'nested' });
  });
  expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
});

import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// bypassRls(cb, { propagation: 'nested' }) called from a manager whose transaction is a SAVEPOINT (a
// nested em.transactional() inside the outer transaction). Found by the eighth review: the session reset
// and the guard against statements sent outside the callback were installed on the knex client of the
// caller's own transaction only; for a savepoint, that client ends with RELEASE SAVEPOINT, and the
// top-level transaction has a knex client of its own. Now the reset goes on the top-level transaction and
// every transaction of the chain is guarded. Pool of one: the next user gets the same backend.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());
beforeEach(() => freshBackends(t));


it('SET ROLE <bypass> in a nested bypass step of a savepoint of an UNSCOPED transaction does not reach the next tenant', async () => {
  // A running application: the one-time role check has already passed.
  expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
  await t.app.em.fork().transactional(async (tx) => {
    await tx.transactional(async (inner) => {
      await inner.bypassRls((admin) => admin.execute(`set role ${t.db.roles.bypass}`), { propagation: 'nested' });
    });
  });
  // The next tenant's first query runs as the bypass role if SET ROLE outlived the transaction.
  expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
});

it('a session-level context value set in a nested bypass step of a savepoint of an unscoped transaction does not reach the next unscoped user', async () => {
  await t.app.em.fork().transactional(async (tx) => {
    await tx.transactional(async (inner) => {
      await inner.bypassRls((admin) => admin.execute(`select set_config('rls.account_id', '1', false)`), { propagation: 'nested' });
    });
  });
  expect(ids(await t.app.em.fork().find(Project, {}))).toEqual([]);
});

it("a tenant's own transaction manager, used inside a nested bypass step started from its savepoint, is refused or stays scoped", async () => {
  // Tenant 1's transaction; a helper opens a nested transaction (a savepoint) and runs an admin step in
  // it. While the step runs, the connection is switched to the bypass role: the guard refuses
  // statements of the caller's transaction (the savepoint), but tenant 1's outer manager sends its
  // statements through the top-level transaction, which is not guarded.
  const seen = await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
    await tx.find(Project, {});
    return tx.transactional((inner) =>
      inner.bypassRls(
        async () => {
          try {
            return ids(await tx.find(Project, {}, { refresh: true }));
          } catch {
            return 'refused';
          }
        },
        { propagation: 'nested' },
      ),
    );
  });
  // Every tenant's projects (1..4) means tenant 1's manager read as the bypass role.
  expect(seen).not.toEqual([1, 2, 3, 4]);
  expect(['refused', JSON.stringify([1, 2])]).toContain(seen === 'refused' ? seen : JSON.stringify(seen));
});

it('an unscoped manager used inside a nested bypass step started from its savepoint does not read as the bypass role', async () => {
  const seen = await t.app.em.fork().transactional(async (tx) => {
    await tx.execute('select 1');
    return tx.transactional((inner) =>
      inner.bypassRls(
        async () => {
          try {
            return ids(await tx.find(Project, {}));
          } catch {
            return 'refused';
          }
        },
        { propagation: 'nested' },
      ),
    );
  });
  // An unscoped manager sees no row of an RLS table; every tenant's projects means the bypass role.
  expect(['refused', '[]']).toContain(seen === 'refused' ? seen : JSON.stringify(seen));
});

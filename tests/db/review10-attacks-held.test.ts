import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { expectNextUsersIsolated } from '../support/next-users-isolated';
import { TEST_ROLES } from '../support/test-roles';

// Attacks of the tenth adversarial review that were refused. Each asserts the secure outcome.

const nested = { propagation: 'nested' } as const;
const whoAmI = `select current_user as who`;
const outcome = (work: Promise<{ id: number }[]>) => work.then((rows) => JSON.stringify(ids(rows)), () => 'refused');

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
beforeEach(() => freshBackends(t));
afterAll(() => t?.close());

const nextTenantIsolated = () => expectNextUsersIsolated(t);

describe('nested bypass steps that end their own savepoint or transaction', () => {
  it('callback calls admin.rollback() (ROLLBACK TO SAVEPOINT): the step is refused and the caller transaction rolled back, never the bypass role', async () => {
    // A savepoint the callback ended itself cannot tell a rollback from a release, so the step rolls the
    // whole transaction back either way (tests/db/nested-bypass-ended-by-callback.test.ts).
    const seen: string[] = [];
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (tx) => {
        await tx.find(Project, {});
        await tx.bypassRls(async (admin) => admin.rollback(), nested).catch(() => undefined);
        seen.push(await outcome(tx.find(Project, {}, { refresh: true })));
      })
      .catch(() => undefined);
    expect(seen).toEqual(['refused']);
    await nextTenantIsolated();
  });

  it("callback ends the whole transaction with raw ROLLBACK, then throws (the step's undo fails: poison): nothing more of the caller runs, as any role", async () => {
    const seen: string[] = [];
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (tx) => {
        await tx.find(Project, {});
        await tx
          .bypassRls(async (admin) => {
            await admin.execute('rollback');
            throw new Error('boom');
          }, nested)
          .catch(() => undefined);
        seen.push(await outcome(tx.find(Project, {}, { refresh: true })));
        seen.push(await outcome(tx.transactional((inner) => inner.find(Project, {}, { refresh: true }))));
        seen.push(await outcome(tx.execute('select id from projects')));
      })
      .catch(() => undefined);
    expect(seen.filter((s) => s !== 'refused' && s !== '[1,2]' && s !== '[]')).toEqual([]);
    await nextTenantIsolated();
  });

  it('callback runs raw COMMIT; BEGIN and returns (RELEASE then fails): the caller is refused or scoped, the next tenant isolated', async () => {
    const seen: string[] = [];
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (tx) => {
        await tx.find(Project, {});
        await tx.bypassRls((admin) => admin.execute('commit; begin'), nested).catch(() => undefined);
        seen.push(await outcome(tx.find(Project, {}, { refresh: true })));
        seen.push(await outcome(tx.transactional((inner) => inner.find(Project, {}, { refresh: true }))));
      })
      .catch(() => undefined);
    expect(seen.filter((s) => s !== 'refused' && s !== '[1,2]' && s !== '[]')).toEqual([]);
    await nextTenantIsolated();
  });

  it("callback calls the caller's tx.commit() (the guard refuses COMMIT; knex takes the transaction as ended and releases its connection): no hang, the next tenant isolated", async () => {
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (tx) => {
        await tx.find(Project, {});
        await tx
          .bypassRls(async (admin) => {
            await tx.commit().catch(() => undefined);
            await admin.count(Project).catch(() => undefined);
            throw new Error('boom');
          }, nested)
          .catch(() => undefined);
      })
      .catch(() => undefined);
    await nextTenantIsolated();
  });

  it('a keepTransactionContext fork of the admin manager, used after the step, does not run in the caller transaction as the bypass role', async () => {
    const after = await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      await tx.find(Project, {});
      const kept = await tx.bypassRls(async (admin) => admin.fork({ keepTransactionContext: true }), nested);
      const late = await outcome(kept.find(Project, {}));
      return { late, rows: ids(await tx.find(Project, {}, { refresh: true })), who: await tx.execute(whoAmI) };
    });
    expect(after.late).toBe('refused');
    expect(after.rows).toEqual([1, 2]);
    expect(after.who).toEqual([{ who: TEST_ROLES.app }]);
    await nextTenantIsolated();
  });
});

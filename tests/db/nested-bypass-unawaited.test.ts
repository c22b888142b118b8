import { setTimeout as sleep } from 'node:timers/promises';
import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// A nested bypass step that cannot be undone (here because an inner step, started without being awaited,
// still holds the chain when the outer step ends) rolls the whole transaction back. Found by the ninth
// review: the chain's existing transactions refused statements, but a NEW savepoint (a knex client of its
// own) ran on the connection still switched to the bypass role, and read every tenant's rows.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());
beforeEach(() => freshBackends(t));

const nested = { propagation: 'nested' } as const;

it("a nested bypass step whose callback starts another nested step without awaiting it: the tenant's next savepoint does not read as the bypass role", async () => {
  // The inner step switches its savepoint (a child of the outer step's) to the bypass role and guards the
  // whole chain, the outer step's savepoint included. The outer step, done first, cannot undo its switch
  // (its RESTORE and its ROLLBACK TO SAVEPOINT are refused by the inner step's guard) and poisons the
  // chain. The tenant's transaction then refuses statements, but a NEW savepoint of it is a transaction
  // with a knex client of its own, which no guard covers, opened on a connection still switched.
  // What the tenant's next savepoint read, recorded before the transaction ends (its COMMIT is refused).
  let seen: number[] | 'refused' = 'refused';
  let refusal = '';
  await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
    await tx.find(Project, {});
    let inner: Promise<unknown> | undefined;
    await tx
      .bypassRls(async (admin) => {
        inner = admin.bypassRls(async (admin2) => {
          await sleep(400);
          return admin2.count(Project);
        }, nested);
        inner.catch(() => undefined);
        await sleep(150); // the inner step has switched by now
      }, nested)
      .catch(() => undefined);
    try {
      seen = ids(await tx.transactional((s2) => s2.find(Project, {})));
    } catch (error) {
      seen = 'refused';
      refusal = String((error as Error).message);
    } finally {
      await inner?.catch(() => undefined);
    }
  }).catch(() => undefined);
  expect(seen).toBe('refused');
  // Refused: as a new savepoint of a transaction under a running nested step, or once the transaction
  // was rolled back because the outer step could not be undone (by knex on MikroORM 6, by the pg client
  // on MikroORM 7).
  expect(refusal).toMatch(/is running a bypassRls\(cb, \{ propagation: 'nested' \}\) step|Transaction query already complete|could not be undone.*the transaction was rolled back/);
});

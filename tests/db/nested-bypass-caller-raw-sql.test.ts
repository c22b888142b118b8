import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { rawOnTransaction } from '../support/raw-on-transaction';
import { mikroOrmTreeOfThisRun } from '../support/mikro-orm-tree';
import { TEST_ROLES } from '../support/test-roles';


// Inside bypassRls(cb, { propagation: 'nested' }) in a tenant's transaction, the step's connection runs
// as the bypass role: only the statements of the manager the callback is given may run on it. Found by
// the adversarial review of the MikroORM 7 adapter: raw Kysely on the caller's own transaction
// (sql`...`.execute(trx), tx.getKysely() builders) ran as the bypass role, because the step accepted
// everything sent from the callback's async context. Now the pg client accepts only what the step's
// admin connection view tags (src/adapters/mikro-orm-7/wire/step-transactions.ts). Raw SQL on the
// transaction context runs on both majors (knex's trx.raw on 6); Kysely's query builders on 7 only.

const onV7 = mikroOrmTreeOfThisRun() === 'v7';
// Registered on v7 only (the v6 run has no skipped tests).
const itV7 = (name: string, body: () => Promise<void>) => (onV7 ? it(name, body) : undefined);
const nested = { propagation: 'nested' } as const;
const whoAmI = 'select current_user as who';
const outcome = <T>(work: PromiseLike<T>) => Promise.resolve(work).then((value) => JSON.stringify(value), (e: Error) => `refused: ${e.message.slice(0, 60)}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Kysely exists only in the v7 tree, and the root type-check (v6) has no types for it: loose types here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's builder, untyped for the v6 type-check
const kyselyOf = (em: unknown): any => (em as { getKysely(): unknown }).getKysely();

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
beforeEach(async () => {
  await freshBackends(t);
  await t.db.query(RESET_SQL);
});
afterAll(() => t?.close());

async function nextUsersIsolated(): Promise<void> {
  expect(await t.db.query(`select title from projects where id = 3`)).toEqual([{ title: 'p3' }]);
  expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  expect(await t.app.em.fork().execute(whoAmI)).toEqual([{ who: TEST_ROLES.app }]);
  expect(ids(await t.app.em.fork().find(Project, {}))).toEqual([]);
}

describe('nested bypass step: the caller chain and raw SQL on its transactions', () => {

  it("inside a nested bypass step, raw SQL on the caller's own transaction (Kysely's sql`...`.execute(trx), knex's trx.raw) is refused", async () => {
    const seen: string[] = [];
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (tx) => {
        await tx.find(Project, {});
        const trx = tx.getTransactionContext();
        await tx.bypassRls(async (admin) => {
          await admin.count(Project);
          seen.push(await outcome(rawOnTransaction<{ who: string }>(trx, whoAmI)));
          seen.push(await outcome(rawOnTransaction<{ id: number }>(trx, 'select id from projects order by id').then((rows) => rows.map((x) => x.id))));
        }, nested);
      })
      .catch(() => undefined);
    // Secure: refused, or run as the tenant.
    expect(seen.filter((s) => !(s.startsWith('refused') || s === JSON.stringify([{ who: TEST_ROLES.app }]) || s === '[1,2]'))).toEqual([]);
    await nextUsersIsolated();
  });

  itV7("inside a nested bypass step, the caller's Kysely query builder (tx.getKysely().selectFrom) is refused", async () => {
    let seen = '';
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (tx) => {
        await tx.find(Project, {});
        const trx = kyselyOf(tx);
        await tx.bypassRls(async () => {
          seen = await outcome(trx.selectFrom('projects').select('id').orderBy('id').execute().then((rows: { id: number }[]) => rows.map((r) => r.id)));
        }, nested);
      })
      .catch(() => undefined);
    expect([seen].filter((s) => !(s.startsWith('refused') || s === '[1,2]'))).toEqual([]);
  });

  itV7("inside a nested bypass step, the caller's Kysely write (updateTable on tx.getKysely()) is refused: another tenant's row keeps its title", async () => {
    let changed = '';
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (tx) => {
        await tx.find(Project, {});
        const trx = kyselyOf(tx);
        await tx.bypassRls(async () => {
          changed = await outcome(trx.updateTable('projects').set({ title: 'taken over' }).where('id', '=', 3).executeTakeFirst().then((r: { numUpdatedRows: bigint }) => Number(r.numUpdatedRows)));
        }, nested);
      })
      .catch(() => undefined);
    // Secure: refused, or 0 rows (tenant 1 cannot see project 3). Tenant 2's project keeps its title.
    expect([changed].filter((s) => !(s.startsWith('refused') || s === '0'))).toEqual([]);
    expect(await t.db.query(`select title from projects where id = 3`)).toEqual([{ title: 'p3' }]);
  });

  it("inside a nested bypass step, the caller's transaction used through MikroORM (tx.find / tx.execute) is refused", async () => {
    const seen: string[] = [];
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (tx) => {
        await tx.find(Project, {});
        await tx.bypassRls(async () => {
          seen.push(await outcome(tx.find(Project, {}, { refresh: true }).then(ids)));
          seen.push(await outcome(tx.execute(whoAmI)));
        }, nested);
      })
      .catch(() => undefined);
    expect(seen.every((s) => s.startsWith('refused'))).toBe(true);
    await nextUsersIsolated();
  });

  it('inside a nested bypass step of a savepoint, raw SQL on the top-level transaction is refused', async () => {
    let seen = '';
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (top) => {
        await top.find(Project, {});
        const topTrx = top.getTransactionContext();
        await top.transactional(async (inner) => {
          await inner.bypassRls(async () => {
            seen = await outcome(rawOnTransaction<{ id: number }>(topTrx, 'select id from projects order by id').then((rows) => rows.map((x) => x.id)));
          }, nested);
        });
      })
      .catch(() => undefined);
    expect([seen].filter((s) => !(s.startsWith('refused') || s === '[1,2]'))).toEqual([]);
    await nextUsersIsolated();
  });

  it("an unawaited caller statement started inside the step's callback, sent after the step, runs as the tenant", async () => {
    let late: Promise<string> | undefined;
    await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      await tx.find(Project, {});
      await tx.bypassRls(async () => {
        late = sleep(30).then(() => outcome(tx.find(Project, {}, { refresh: true }).then(ids)));
      }, nested);
      await sleep(60);
      expect(await late).toEqual('[1,2]');
    });
    await nextUsersIsolated();
  });

  it("a nested step started on the caller's transaction from inside a running step's callback is refused at once (it would wait for its own caller)", async () => {
    let seen = '';
    const hang = sleep(3000).then(() => 'hung');
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (tx) => {
        await tx.find(Project, {});
        await tx.bypassRls(async () => {
          seen = await Promise.race([outcome(tx.bypassRls((admin2) => admin2.count(Project), nested)), hang]);
        }, nested);
      })
      .catch(() => undefined);
    expect(seen).toMatch(/^refused/);
    await nextUsersIsolated();
  });

  itV7("raw Kysely on the step's own savepoint (the admin manager's em.getKysely()) is refused: only its MikroORM methods run in the step", async () => {
    const seen: string[] = [];
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (tx) => {
        await tx.find(Project, {});
        await tx.bypassRls(async (admin) => {
          seen.push(await outcome(kyselyOf(admin).selectFrom('projects').select('id').execute()));
          seen.push(await outcome(admin.count(Project)));
        }, nested);
      })
      .catch(() => undefined);
    expect(seen).toEqual([expect.stringMatching(/^refused/), '4']);
    await nextUsersIsolated();
  });
});

import type { Knex } from '@mikro-orm/knex';
import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { expectNextUsersIsolated } from '../support/next-users-isolated';
import { TEST_ROLES } from '../support/test-roles';

// Attacks of the twelfth adversarial review that were refused (each asserts the secure outcome).

const nested = { propagation: 'nested' } as const;
const whoAmI = `select current_user as who`;
const outcome = <T>(work: PromiseLike<T>) => Promise.resolve(work).then((value) => JSON.stringify(value), () => 'refused');

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 2 });
});
beforeEach(async () => {
  await freshBackends(t);
  await t.db.query(RESET_SQL);
});
afterAll(() => t?.close());

const nextTenantIsolated = () => expectNextUsersIsolated(t, { untouched: true });

const secureDuring = ['[1,2]', JSON.stringify([{ who: TEST_ROLES.app }]), '0', 'refused'];

it('two nested steps from different levels of one chain (top started while the inner one runs): refused meanwhile, and the chain works as the tenant after both', async () => {
  const during: string[] = [];
  const after: string[] = [];
  await t.app.em
    .forkWithRls({ account_id: 1 })
    .transactional(async (top) => {
      await top.find(Project, {});
      await top.transactional(async (inner) => {
        await inner.bypassRls(async (admin) => {
          await admin.count(Project);
          during.push(await outcome(top.bypassRls((admin2) => admin2.count(Project), nested)));
          during.push(await outcome(top.bypassRls((admin2) => admin2.count(Project))));
        }, nested);
        after.push(await outcome(inner.find(Project, {}, { refresh: true }).then(ids)));
      });
      after.push(await outcome(top.find(Project, {}, { refresh: true }).then(ids)));
      after.push(await outcome(top.execute(whoAmI)));
      after.push(await outcome(top.bypassRls((admin) => admin.count(Project), nested)));
      after.push(await outcome(top.find(Project, {}, { refresh: true }).then(ids)));
    });
  // The nested one from `top` is refused (it would open a savepoint of a guarded transaction); the
  // requires_new one runs on a connection of its own and counts all 4 rows.
  expect(during).toEqual(['refused', '4']);
  // After a step that succeeded, the chain is not guarded forever.
  expect(after).toEqual(['[1,2]', '[1,2]', JSON.stringify([{ who: TEST_ROLES.app }]), '4', '[1,2]']);
  await nextTenantIsolated();
});

it("knex's trx.savepoint() and trx.transaction() on the caller's transaction context while the step runs are refused or scoped", async () => {
  const during: string[] = [];
  await t.app.em
    .forkWithRls({ account_id: 1 })
    .transactional(async (tx) => {
      await tx.find(Project, {});
      const trx = tx.getTransactionContext() as Knex.Transaction;
      await tx.bypassRls(async (admin) => {
        await admin.count(Project);
        during.push(await outcome((trx as unknown as { savepoint(): Promise<Knex.Transaction> }).savepoint().then(async (sp) => { const r = await sp.raw(whoAmI); await sp.commit(); return r.rows; })));
        during.push(await outcome(trx.transaction(async (sp) => (await sp.raw('select id from projects order by id')).rows.map((r: { id: number }) => r.id))));
        during.push(await outcome(trx('projects').update({ title: 'taken over' }).where({ id: 3 })));
        during.push(await outcome(tx.getConnection().execute('select id from projects order by id', [], 'all', trx).then((rows) => (rows as { id: number }[]).map((r) => r.id))));
        during.push(await outcome(tx.createQueryBuilder(Project).select('*').getKnexQuery().transacting(trx)));
      }, nested).catch(() => undefined);
    })
    .catch(() => undefined);
  expect(during.filter((s) => !secureDuring.includes(s))).toEqual([]);
  await nextTenantIsolated();
});

type Seen = { rows?: number[]; who?: unknown; changed?: unknown; error?: string };

async function attack(): Promise<Seen> {
  const seen: Seen = {};
  await t.app.em
    .forkWithRls({ account_id: 1 })
    .transactional(async (tx) => {
      await tx.find(Project, {});
      let started!: () => void;
      const stepRunning = new Promise<void>((resolve) => (started = resolve));
      let siblingDone!: () => void;
      const siblingOver = new Promise<void>((resolve) => (siblingDone = resolve));
      let step: Promise<unknown> | undefined;
      await Promise.all([
        tx
          .transactional(async (inner) => {
            await inner.find(Project, {});
            step = inner
              .bypassRls(async (admin) => {
                started();
                await admin.count(Project);
                // The step stays in its callback until the sibling is over.
                await siblingOver;
              }, nested)
              .catch(() => undefined);
            // The caller stops waiting for the step once it runs (a timeout race, say), and returns.
            await Promise.race([step, stepRunning]);
          })
          .catch(() => undefined),
        // Opened right away: knex queues this savepoint behind `inner`, and starts it once `inner` ends.
        tx
          .transactional(async (sibling) => {
            seen.rows = ids(await sibling.find(Project, {}, { refresh: true }));
            seen.who = await sibling.execute(whoAmI);
            seen.changed = await sibling.nativeUpdate(Project, { id: 3 }, { title: 'taken over' });
          })
          .catch((error: Error) => {
            seen.error = error.message;
          })
          .finally(() => siblingDone()),
      ]);
      await step;
    })
    .catch(() => undefined);
  return seen;
}

it("a caller savepoint queued behind the caller's nested transaction never runs as the bypass role when that transaction ends while its nested step runs", async () => {
  const seen = await attack();
  // Secure: the sibling saw only tenant 1's rows, as the application role, changed nothing of tenant 2,
  // or was refused.
  if (seen.error === undefined) {
    expect(seen.rows).toEqual([1, 2]);
    expect(seen.who).toEqual([{ who: TEST_ROLES.app }]);
    expect(seen.changed).toBe(0);
  }
  await nextTenantIsolated();
});

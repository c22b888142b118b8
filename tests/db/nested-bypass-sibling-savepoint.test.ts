import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { expectNextUsersIsolated } from '../support/next-users-isolated';
import { TEST_ROLES } from '../support/test-roles';

// A savepoint of the caller's transaction opened while a nested bypass step runs. Found by the eleventh
// review: knex queued it behind the step's savepoint with a knex client of its own, which the step's
// guard did not cover, and started it as soon as the callback ended the step's savepoint itself
// (admin.commit(), a RELEASE that keeps the role switch): it read and wrote as the bypass role before the
// step found out. New savepoints of a guarded transaction are refused now.

const nested = { propagation: 'nested' } as const;
const whoAmI = `select current_user as who`;

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 2 });
});
beforeEach(async () => {
  await freshBackends(t);
  await t.db.query(RESET_SQL);
});
afterAll(() => t?.close());

const nextTenantIsolated = () => expectNextUsersIsolated(t);

type Seen = { rows?: number[]; who?: unknown; error?: string };

it("a caller savepoint started while the step runs never reads as the bypass role, even when the callback ends the step's savepoint with admin.commit()", async () => {
  const seen: Seen = {};
  await t.app.em
    .forkWithRls({ account_id: 1 })
    .transactional(async (tx) => {
      await tx.find(Project, {});
      let started!: () => void;
      const stepRunning = new Promise<void>((resolve) => (started = resolve));
      await Promise.all([
        tx
          .bypassRls(async (admin) => {
            started();
            await admin.count(Project);
            await admin.commit();
            // Any further awaited work of the callback (here on a connection of its own) opens the window.
            await admin.count(Project);
          }, nested)
          .catch(() => undefined),
        // The caller's own code, concurrently: a nested transaction (a savepoint of the tenant's
        // transaction), opened once the step runs; knex queues it behind the step's savepoint.
        stepRunning.then(() =>
          tx
            .transactional(async (inner) => {
              seen.rows = ids(await inner.find(Project, {}, { refresh: true }));
              seen.who = await inner.execute(whoAmI);
            })
            .catch((error: Error) => {
              seen.error = error.message;
            }),
        ),
      ]);
    })
    .catch(() => undefined);
  // Secure: the tenant's nested transaction saw only tenant 1's rows, as the application role, or was refused.
  if (seen.error === undefined) {
    expect(seen.rows).toEqual([1, 2]);
    expect(seen.who).toEqual([{ who: TEST_ROLES.app }]);
  }
  await nextTenantIsolated();
});

it("a caller savepoint queued behind the step never writes another tenant's row as the bypass role (admin.commit() in the callback)", async () => {
  let changed: unknown;
  await t.app.em
    .forkWithRls({ account_id: 1 })
    .transactional(async (tx) => {
      await tx.find(Project, {});
      let sibling: Promise<unknown> | undefined;
      await tx
        .bypassRls(async (admin) => {
          sibling = tx
            .transactional((inner) => inner.nativeUpdate(Project, { id: 3 }, { title: 'taken over' }))
            .then((n) => (changed = n), () => (changed = 'refused'));
          await admin.commit();
          await sibling;
        }, nested)
        .catch(() => undefined);
      await sibling;
    })
    .catch(() => undefined);
  // Secure: the tenant's update of tenant 2's row reached no row (0), or was refused.
  expect([0, 'refused']).toContain(changed);
  await nextTenantIsolated();
});

import type { EntityManager } from '@mikro-orm/postgresql';
import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { outcome, within } from '../support/attack-outcomes';
import { ids } from '../support/ids';
import { mikroOrmTreeOfThisRun } from '../support/mikro-orm-tree';
import { expectNextUsersIsolated } from '../support/next-users-isolated';
import { TEST_ROLES } from '../support/test-roles';

// A handle on a transaction that is over (the manager an inner transactional() callback was given, its
// em.getKysely(), a fork given it with setTransactionContext, a Kysely savepoint) must not run anything
// once the transaction has ended: its pooled connection went back to the pool, and the next request may
// be using it, inside a transaction of its own. Found by the adversarial review of the MikroORM 7 adapter
// (2026-12-02): Kysely marks a transaction committed, but not the savepoints opened in it, so a kept
// savepoint ran its statements in the next user's transaction on the reused connection, with that
// user's scope (tenant 2's rows) or role (the bypass role). Pool of 1: the next user surely gets the
// connection. Runs on both majors; the Kysely handles on MikroORM 7 only.

const onV7 = mikroOrmTreeOfThisRun() === 'v7';
// Registered on MikroORM 7 only (the v6 run has no skipped tests): em.getKysely() and Kysely savepoints.
const itV7 = (name: string, body: () => Promise<void>) => (onV7 ? it(name, body) : undefined);
const STALE = /refused: .*(transaction|savepoint).*(over|ended|complete|committed|rolled back)/i;

// Kysely exists only in the v7 tree, and the root type-check (v6) has no types for it: loose types here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's transaction, untyped for the v6 type-check
type Kysely = any;
const kyselyOf = (em: unknown): Kysely => (em as { getKysely(): unknown }).getKysely();
const titles = (rows: { title: string }[]) => rows.map((row) => row.title).sort();

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
beforeEach(async () => {
  await freshBackends(t);
  await t.db.query(RESET_SQL);
});
afterAll(() => t?.close());

/** Tenant 1's transaction with a savepoint (an inner transactional()), whose manager is kept past both. */
async function keptInnerManager(): Promise<EntityManager> {
  let kept: EntityManager | undefined;
  await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
    expect(ids(await tx.find(Project, {}))).toEqual([1, 2]);
    await tx.transactional(async (inner) => {
      expect(ids(await inner.find(Project, {}, { refresh: true }))).toEqual([1, 2]);
      kept = inner;
    });
  });
  return kept!;
}

/** Runs `attack` while tenant 2 (or, with `bypass`, an admin) holds the only connection in its transaction. */
async function duringNextUsersTransaction(attack: () => Promise<string>, options: { bypass?: boolean } = {}): Promise<{ attack: string; own: number[] }> {
  const next = options.bypass ? t.app.em.bypassRls() : t.app.em.forkWithRls({ account_id: 2 });
  return next.transactional(async (tx) => {
    await tx.find(Project, {}); // the transaction is open on the connection
    const result = await attack();
    return { attack: result, own: ids(await tx.find(Project, {}, { refresh: true })) };
  });
}

describe('a handle on a transaction that is over runs nothing on the connection its next user holds', () => {
  it("the kept manager of an inner transactional() does not read tenant 2's rows in tenant 2's transaction", async () => {
    const kept = await keptInnerManager();
    const seen = await duringNextUsersTransaction(() => outcome(within(kept.find(Project, {}, { refresh: true }).then(ids))));
    expect(seen.attack).toMatch(STALE);
    expect(seen.own).toEqual([3, 4]);
    await expectNextUsersIsolated(t, { untouched: true });
  });

  it("the kept manager of an inner transactional() does not write tenant 2's rows in tenant 2's transaction", async () => {
    const kept = await keptInnerManager();
    const seen = await duringNextUsersTransaction(() => outcome(within(kept.nativeUpdate(Project, {}, { title: 'taken' }))));
    expect(seen.attack).toMatch(STALE);
    expect(titles(await t.db.query<{ title: string }>('select title from projects'))).toEqual(['p1', 'p2', 'p3', 'p4']);
    await expectNextUsersIsolated(t, { untouched: true });
  });

  it("the kept manager's execute() does not run as the bypass role inside an admin's bypassRls() transaction", async () => {
    const kept = await keptInnerManager();
    const seen = await duringNextUsersTransaction(
      () => outcome(within(kept.execute(`select current_user as who, (select count(*) from projects)::int as n`))),
      { bypass: true },
    );
    expect(seen.attack).toMatch(STALE);
    expect(seen.own).toEqual([1, 2, 3, 4]);
    await expectNextUsersIsolated(t, { untouched: true });
  });

  it('a scoped fork given the kept savepoint with setTransactionContext() does not read the next tenant\'s rows', async () => {
    const kept = await keptInnerManager();
    const ctx = kept.getTransactionContext();
    expect(ctx).toBeDefined();
    const fork = t.app.em.forkWithRls({ account_id: 1 });
    const seen = await duringNextUsersTransaction(async () => {
      fork.setTransactionContext(ctx);
      return outcome(within(fork.find(Project, {}).then(ids)));
    });
    expect(seen.attack).toMatch(/^refused/);
    expect(seen.own).toEqual([3, 4]);
    await expectNextUsersIsolated(t, { untouched: true });
  });

  it('the kept manager is refused while its connection is idle in the pool too, and leaves it clean', async () => {
    const kept = await keptInnerManager();
    expect(await outcome(within(kept.execute(`set role ${TEST_ROLES.bypass}`)))).toMatch(STALE);
    await expectNextUsersIsolated(t, { untouched: true });
  });

  it('the manager of the outer transaction, kept past its commit, is refused as well', async () => {
    let kept: EntityManager | undefined;
    await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      await tx.find(Project, {});
      kept = tx;
    });
    const seen = await duringNextUsersTransaction(() => outcome(within(kept!.find(Project, {}, { refresh: true }).then(ids))));
    // Either refused, or run outside the next user's transaction on a connection of its own: never their rows.
    expect(seen.attack === '[1,2]' || /^refused/.test(seen.attack)).toBe(true);
    expect(seen.own).toEqual([3, 4]);
    await expectNextUsersIsolated(t, { untouched: true });
  });

  itV7("em.getKysely() kept from an inner transactional() does not read tenant 2's rows in tenant 2's transaction", async () => {
    let kysely: Kysely;
    await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      await tx.find(Project, {});
      await tx.transactional(async (inner) => {
        kysely = kyselyOf(inner);
        expect((await kysely.selectFrom('projects').select('id').orderBy('id').execute()).map((row: { id: number }) => row.id)).toEqual([1, 2]);
      });
    });
    const seen = await duringNextUsersTransaction(() => outcome(within(kysely.selectFrom('projects').select('id').execute())));
    expect(seen.attack).toMatch(STALE);
    expect(seen.own).toEqual([3, 4]);
    await expectNextUsersIsolated(t, { untouched: true });
  });

  itV7('a Kysely savepoint opened on a scoped transaction and kept past its commit does not switch the next user to the bypass role', async () => {
    let savepoint: Kysely;
    await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      await tx.find(Project, {});
      savepoint = await kyselyOf(tx).savepoint('kept').execute();
    });
    const seen = await duringNextUsersTransaction(async () => {
      const switched = await outcome(within(savepoint.executeQuery({ sql: `set local role ${TEST_ROLES.bypass}`, parameters: [], query: { kind: 'RawNode' } })));
      return switched;
    });
    expect(seen.attack).toMatch(STALE);
    expect(seen.own).toEqual([3, 4]);
    await expectNextUsersIsolated(t, { untouched: true });
  });

  itV7('a stream of the kept savepoint opened in the next tenant\'s transaction is refused', async () => {
    let kysely: Kysely;
    await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      await tx.find(Project, {});
      await tx.transactional(async (inner) => {
        kysely = kyselyOf(inner);
      });
    });
    const seen = await duringNextUsersTransaction(async () => {
      const rows: unknown[] = [];
      return outcome(
        within(
          (async () => {
            for await (const row of kysely.selectFrom('projects').select('id').stream()) rows.push(row);
            return rows;
          })(),
        ),
      );
    });
    expect(seen.attack).toMatch(STALE);
    expect(seen.own).toEqual([3, 4]);
    await expectNextUsersIsolated(t, { untouched: true });
  });
});

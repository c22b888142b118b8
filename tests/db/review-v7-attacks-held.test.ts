import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { TEST_ROLES } from '../support/test-roles';

// Attacks of the adversarial review of the MikroORM 7 adapter (2026-12-01) that were refused (held),
// kept so that they stay refused: MikroORM 7's native session context, Kysely and bound parameters. The
// review's breaks, now fixed, are tested in hook-work-outside-scope, hook-transaction-leak,
// nested-bypass-caller-raw-sql and session-state-from-unscoped-work (both majors). MikroORM 7 only
// (tests/v7-only.txt).

const whoAmI = 'select current_user as who';
const outcome = <T>(work: PromiseLike<T>) => Promise.resolve(work).then((value) => JSON.stringify(value), (e: Error) => `refused: ${e.message.slice(0, 60)}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// Pool of 1: work that waits for a second connection while the test holds the only one would hang.
const within = <T>(work: PromiseLike<T>, ms = 2000) => Promise.race([Promise.resolve(work), sleep(ms).then(() => { throw new Error('hung: waited for the pool'); })]);

// Kysely exists only in the v7 tree, and the root type-check (v6) has no types for it: loose types here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's builder, untyped for the v6 type-check
const kyselyOf = (em: unknown): any => (em as { getKysely(): unknown }).getKysely();

// em.stream exists on MikroORM 7 only.
type Streaming = { stream(entity: unknown, options?: object): AsyncIterable<Project> };

// A hook the application installs (MikroORM's `onQuery`), switched on by the test that needs it.
let onQueryHook: ((sql: string) => void) | undefined;

let t: Booted;
beforeAll(async () => {
  t = await boot({
    entities: tenantEntities,
    seedSql: RESET_SQL,
    poolSize: 1,
    extra: {
      onQuery: (sql: string) => {
        onQueryHook?.(sql);
        return sql;
      },
    } as never,
  });
});
beforeEach(async () => {
  onQueryHook = undefined;
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

describe("v7 review: MikroORM 7's native session context, Kysely and bound parameters", () => {
  it('held: setSessionContext({ role }) on a scoped fork is refused, not run as that role', async () => {
    const scoped = t.app.em.forkWithRls({ account_id: 1 });
    (scoped as unknown as { setSessionContext(c: object): void }).setSessionContext({ role: TEST_ROLES.bypass });
    expect(await outcome(scoped.find(Project, {}).then(ids))).toMatch(/^refused/);
    expect(await outcome(scoped.count(Project))).toMatch(/^refused/);
    expect(await outcome(scoped.nativeUpdate(Project, { id: 3 }, { title: 'taken' }))).toMatch(/^refused/);
    await nextUsersIsolated();
  });

  it("held: a scoped fork of a manager with a native session (em.fork({ session })) is refused on use", async () => {
    const parent = t.app.em.fork({ session: { role: TEST_ROLES.bypass, variables: { 'rls.account_id': '2' } } } as never);
    expect(() => parent.forkWithRls({ account_id: 1 }, { session: { role: TEST_ROLES.bypass } } as never)).toThrow();
    const scoped = parent.forkWithRls({ account_id: 1 });
    const seen = await outcome(scoped.find(Project, {}).then(ids));
    expect(seen === '[1,2]' || seen.startsWith('refused')).toBe(true);
    await nextUsersIsolated();
  });

  it('held: em.execute and getConnection().execute with bound parameters outside a transaction stay scoped', async () => {
    const scoped = t.app.em.forkWithRls({ account_id: 1 });
    expect(await scoped.execute('select id from projects where id > ? order by id', [0])).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await scoped.getConnection().execute('select id from projects where id in (?) order by id', [[1, 3]])).toEqual([{ id: 1 }]);
    expect(await scoped.execute('select ? as x, id from projects where title = ? ', ["'; set role " + TEST_ROLES.bypass + '; --', 'p3'])).toEqual([]);
    await nextUsersIsolated();
  });

  it('held: em.getKysely() and getConnection().getClient() of a scoped fork outside a transaction are refused', async () => {
    const scoped = t.app.em.forkWithRls({ account_id: 1 });
    expect(() => kyselyOf(scoped)).toThrow(/refused/);
    expect(() => (scoped.getConnection() as unknown as { getClient(): unknown }).getClient()).toThrow(/refused/);
    expect(() => (scoped.getDriver().getConnection('read') as unknown as { getClient(): unknown }).getClient()).toThrow(/refused/);
  });

  it('held: Kysely with bound parameters inside a scoped transaction is scoped, first statement included', async () => {
    const rows = await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      const k = kyselyOf(tx);
      const first = await k.selectFrom('projects').select('id').where('id', '>', 0).orderBy('id').execute();
      const second = await k.selectFrom('projects').select('id').where('id', 'in', [1, 3]).execute();
      return [first.map((r: { id: number }) => r.id), second.map((r: { id: number }) => r.id)];
    });
    expect(rows).toEqual([[1, 2], [1]]);
    await nextUsersIsolated();
  });

  it("held: a scoped fork's transactional given another fork's transaction as ctx is refused", async () => {
    await t.app.em.forkWithRls({ account_id: 2 }).transactional(async (other) => {
      await other.find(Project, {});
      const ctx = other.getTransactionContext();
      const mine = t.app.em.forkWithRls({ account_id: 1 });
      expect(await outcome(within(mine.find(Project, {}, { ctx } as never).then(ids)))).not.toEqual('[3,4]');
      expect(await outcome(within(mine.transactional((tx) => tx.find(Project, {}).then(ids), { ctx } as never)))).toMatch(/^refused/);
      expect(await outcome(mine.getConnection().execute('select id from projects', [], 'all', ctx as never))).toMatch(/^refused/);
    });
    await nextUsersIsolated();
  });

  it('held: concurrent unawaited statements of a scoped transaction all run scoped', async () => {
    const results = await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      const all = [tx.execute('select id from projects order by id'), tx.execute(whoAmI), tx.find(Project, {}, { refresh: true }).then(ids), tx.count(Project)];
      return Promise.all(all);
    });
    expect(results).toEqual([[{ id: 1 }, { id: 2 }], [{ who: TEST_ROLES.app }], [1, 2], 2]);
    await nextUsersIsolated();
  });

  it('held: the result cache of a scoped fork is not read by another tenant or a plain fork', async () => {
    expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}, { cache: true }))).toEqual([1, 2]);
    expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}, { cache: true }))).toEqual([3, 4]);
    expect(ids(await t.app.em.fork().find(Project, {}, { cache: true }))).toEqual([]);
    expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}, { cache: ['k', 1000] }))).toEqual([1, 2]);
    expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}, { cache: ['k', 1000] }))).toEqual([3, 4]);
  });

  it('held: a scoped fork stream outside a transaction is refused; inside one it is scoped', async () => {
    const scoped = t.app.em.forkWithRls({ account_id: 1 });
    const collect = async (it: AsyncIterable<Project>) => {
      const out: number[] = [];
      for await (const p of it) out.push(p.id);
      return out;
    };
    expect(await outcome(collect((scoped as unknown as Streaming).stream(Project)))).toMatch(/^refused/);
    expect(await scoped.transactional((tx) => collect((tx as unknown as Streaming).stream(Project, { orderBy: { id: 'asc' } })))).toEqual([1, 2]);
    await nextUsersIsolated();
  });
});

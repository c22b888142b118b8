import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { mikroOrmTreeOfThisRun } from '../support/mikro-orm-tree';
import { TEST_ROLES } from '../support/test-roles';
import { withRawPoolClient } from '../support/pool-of-either-major';
import { sessionResetOf } from '../../src/core/settings/session-reset-of';

// Session state that unscoped work (a plain fork, a raw client of the ORM's pool) leaves on a pooled
// connection must not reach whoever gets the connection next: neither a tenant's fork nor another plain
// fork. Found by the MikroORM 7 review (2026-12-01) on both majors. A pool of one, so the next user
// surely gets the connection the attack used.

const onV7 = mikroOrmTreeOfThisRun() === 'v7';
// Registered on MikroORM 7 only (the v6 run has no skipped tests): pg-pool's own client API.
const itV7 = (name: string, body: () => Promise<void>) => (onV7 ? it(name, body) : undefined);
type RawPool = { connect(): Promise<{ query(sql: string): Promise<unknown>; release(): void }>; query(sql: string): Promise<{ rows: unknown[] }> };
const nativePool = async (em: unknown) => (await (em as { getConnection(): { getNativeClient(): Promise<unknown> } }).getConnection().getNativeClient()) as RawPool;
const whoAmI = 'select current_user as who';

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
  expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  expect(await t.app.em.fork().execute(whoAmI)).toEqual([{ who: TEST_ROLES.app }]);
  expect(ids(await t.app.em.fork().find(Project, {}))).toEqual([]);
  expect(await t.app.em.fork().execute(`select count(*)::int as n from pg_catalog.pg_class where relnamespace = pg_catalog.pg_my_temp_schema()`)).toEqual([{ n: 0 }]);
}

describe('session state left by unscoped work does not reach the next user of the connection (pool of 1)', () => {
  it("SET ROLE <bypass> by a plain fork is undone: the next tenant runs as the application role and sees only its rows", async () => {
    expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]); // role check done
    await t.app.em.fork().execute(`set role ${TEST_ROLES.bypass}`);
    expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
    expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).transactional((tx) => tx.find(Project, {})))).toEqual([3, 4]);
    await nextUsersIsolated();
  });

  it('SET ROLE <bypass> by a plain fork is undone for the next plain fork too (which sees nothing)', async () => {
    await t.app.em.fork().execute(`set role ${TEST_ROLES.bypass}`);
    expect(ids(await t.app.em.fork().find(Project, {}))).toEqual([]);
    await nextUsersIsolated();
  });

  it('a temporary table named like an entity table, made by a plain fork, is dropped before the next tenant reads or writes', async () => {
    await t.app.em
      .fork()
      .execute(`create temp table projects (id serial primary key, title text, account_id int); insert into pg_temp.projects (id, title, account_id) values (99, 'forged', 2)`);
    const tenant = t.app.em.forkWithRls({ account_id: 2 });
    expect(ids(await tenant.find(Project, {}))).toEqual([3, 4]);
    tenant.create(Project, { id: 50, title: 'real', account: 2 } as never);
    await tenant.flush();
    expect(await t.db.query(`delete from projects where id = 50 returning title`)).toEqual([{ title: 'real' }]);
    await nextUsersIsolated();
  });

  it("set_config('rls.account_id', '2', false) by a plain fork is undone: the next plain fork sees nothing", async () => {
    await t.app.em.fork().execute(`select set_config('rls.account_id', '2', false)`);
    expect(ids(await t.app.em.fork().find(Project, {}))).toEqual([]);
    await nextUsersIsolated();
  });

  it('state left inside an unscoped transaction that committed is undone too', async () => {
    await t.app.em.fork().transactional(async (tx) => {
      await tx.execute(`set role ${TEST_ROLES.bypass}`);
      await tx.execute(`select set_config('rls.account_id', '1', false)`);
    });
    expect(ids(await t.app.em.fork().find(Project, {}))).toEqual([]);
    await nextUsersIsolated();
  });

  it("SET ROLE and set_config on a raw client of the ORM's own pool are undone before the next user", async () => {
    expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
    await withRawPoolClient(t.app, async (client) => {
      await client.query(`set role ${TEST_ROLES.bypass}`);
      await client.query(`select set_config('rls.account_id', '1', false)`);
    });
    expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).transactional((tx) => tx.find(Project, {})))).toEqual([3, 4]);
    await nextUsersIsolated();
  });

  it("SET ROLE sent on a raw pool client right behind the exact session reset, without waiting for it, is undone too", async () => {
    expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
    const reset = sessionResetOf(t.app.config.get('rls' as never)).sql;
    await withRawPoolClient(t.app, async (client) => {
      // Pipelined: the SET ROLE is on the wire before the reset's answer comes back.
      await Promise.all([client.query(reset), client.query(`set role ${TEST_ROLES.bypass}`)]);
    });
    expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
    await nextUsersIsolated();
  });

  it('a plain fork still keeps its own session state for its own statements inside its transaction', async () => {
    // The reset happens between users of the connection, never in the middle of one user's work.
    const seen = await t.app.em.fork().transactional(async (tx) => {
      await tx.execute(`select set_config('rls.account_id', '1', false)`);
      return ids(await tx.find(Project, {}));
    });
    expect(seen).toEqual([1, 2]);
    await nextUsersIsolated();
  });

  itV7('a raw pool client left inside a transaction is destroyed, not handed to the next tenant', async () => {
    const client = await (await nativePool(t.app.em)).connect();
    await client.query(`begin; set local role ${TEST_ROLES.bypass}`);
    client.release();
    expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
    await nextUsersIsolated();
  });

  itV7("a scoped fork's getNativeClient() pool query is unscoped and sees no rows", async () => {
    const pool = await nativePool(t.app.em.forkWithRls({ account_id: 1 }));
    expect((await pool.query('select id from projects')).rows).toEqual([]);
    await nextUsersIsolated();
  });
});

import { bootWithStandbyForThisFile, ranOnStandby } from '../fixtures/boot-with-standby';
import { Project, Task } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { PGBOUNCER_REPLICA_ADDR_ENV, pgbouncerPools, pgbouncerRequested } from '../support/pgbouncer';
import { REPLICA_URL_ENV } from '../support/streaming-replica';
import type { TenantOrm } from '../support/tenant-orm';
import { TEST_ROLES } from '../support/test-roles';

// Reads of scoped, bypass and plain forks that MikroORM sends to a read replica (`replicas`, with its
// default preferReadReplicas: true) run on a real hot standby of the test server, streaming from it,
// and are scoped there exactly as on the primary. `ranOnStandby(true)` in a find's where makes the
// query itself prove where it ran: on the primary it matches nothing.

const booted = bootWithStandbyForThisFile();

/** Where a raw statement on the fork's read connection (the one its finds get) runs, and as what. */
async function readConnectionState(em: TenantOrm['em']) {
  const [row] = await em
    .getConnection('read')
    .execute(
      `select pg_is_in_recovery() as standby, inet_server_port() as port, current_user as "user", coalesce(current_setting('rls.account_id', true), '') as account, (select count(*)::int from projects) as projects`,
    );
  return row as { standby: boolean; port: number; user: string; account: string; projects: number };
}

const path = pgbouncerRequested()
  ? 'the replica URL reaches a hot standby of the test server through a PgBouncer of its own in transaction mode'
  : 'the replica URL reaches a hot standby of the test server directly';

it(path, async () => {
  const { standby } = booted;
  const [server] = await standby.query<{ recovering: boolean; receiving: number }>(
    `select pg_is_in_recovery() as recovering, (select count(*)::int from pg_stat_wal_receiver where status = 'streaming') as receiving`,
  );
  expect(server).toEqual({ recovering: true, receiving: 1 });
  const standbyPort = Number(new URL(process.env[REPLICA_URL_ENV]!).port);
  expect((await readConnectionState(booted.orm.em.fork())).port).toBe(standbyPort);
  const address = process.env[PGBOUNCER_REPLICA_ADDR_ENV];
  if (!pgbouncerRequested()) {
    expect({ address, appPort: Number(new URL(standby.appUrl).port) }).toEqual({ address: undefined, appPort: standbyPort });
    return;
  }
  expect(new URL(standby.appUrl).host).toBe(address);
  const pool = (await pgbouncerPools(address!)).find((p) => p.database === booted.t.db.name && p.user === TEST_ROLES.app);
  expect(pool).toMatchObject({ pool_mode: 'transaction' });
});

it.each([
  [1, [1, 2]],
  [2, [3, 4]],
])('a scoped find of tenant %i runs on the standby and returns only its projects', async (account, projects) => {
  const em = booted.orm.em.forkWithRls({ account_id: account });
  expect(ids(await em.find(Project, ranOnStandby(true)))).toEqual(projects);
  expect(ids(await em.find(Project, ranOnStandby(false)))).toEqual([]);
  expect(await readConnectionState(em)).toMatchObject({ standby: true, user: TEST_ROLES.app, account: String(account), projects: 2 });
});

it('count, findOne, a QueryBuilder and a lazy-loaded relation of a scoped fork run on the standby, scoped', async () => {
  const em = booted.orm.em.forkWithRls({ account_id: 1 });
  expect(await em.count(Project, ranOnStandby(true))).toBe(2);
  expect(await em.findOne(Project, { id: 3, ...ranOnStandby(true) })).toBeNull();
  expect((await em.findOne(Project, { id: 1, ...ranOnStandby(true) }))?.title).toBe('p1');
  const rows = await em.createQueryBuilder(Project, 'p').select(['p.id']).where(ranOnStandby(true)).orderBy({ id: 'asc' }).execute('all', false);
  expect(rows).toEqual([{ id: 1 }, { id: 2 }]);
  // Project 1 has task 2 of tenant 2 under it, and task 3 of tenant 1 points at project 3.
  const project = (await em.findOne(Project, 1))!;
  await project.tasks.init({ where: ranOnStandby(true) });
  expect(ids(project.tasks.getItems())).toEqual([1]);
  expect(ids(await em.find(Task, ranOnStandby(true)))).toEqual([1, 3]);
});

it('a bypass fork reads every tenant on the standby, as the bypass role', async () => {
  const admin = booted.orm.em.bypassRls();
  expect(ids(await admin.find(Project, ranOnStandby(true)))).toEqual([1, 2, 3, 4]);
  expect(await readConnectionState(admin)).toMatchObject({ standby: true, user: TEST_ROLES.bypass, account: '', projects: 4 });
});

it('without a context a read on the standby sees no rows (fail closed)', async () => {
  const plain = booted.orm.em.fork();
  expect(ids(await plain.find(Project, {}))).toEqual([]);
  expect(await plain.count(Project, {})).toBe(0);
  expect(await readConnectionState(plain)).toEqual({ standby: true, port: expect.any(Number), user: TEST_ROLES.app, account: '', projects: 0 });
});

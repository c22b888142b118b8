import type { MikroORM as CoreMikroORM, Options } from '@mikro-orm/core';
import { MikroORM, type PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { withRls, type RlsEntityManager } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { TEST_ROLES } from '../support/test-roles';
import { ids } from '../support/ids';
import { ACQUIRE_TIMEOUT, acquireTimeout, connectionParams, mergeOptions, onNewConnection, tinyAcquireTimeout, withRawPoolClient } from '../support/pool-of-either-major';
import { mikroOrmTreeOfThisRun } from '../support/mikro-orm-tree';

// Edge cases of the pool guard: pool and connection options an application may pass, and where the
// guard's promises must still hold. No connection whose transaction is not idle, or whose session
// reset is pending, reaches the next user; a scope's session-level changes (role, search_path, the
// context variables `rls.*`) do not outlive it. Pools of one connection, so the next user gets the
// same backend whenever it is still in the pool.

type Orm = CoreMikroORM<PostgreSqlDriver, RlsEntityManager>;

const TENANT1 = [1, 2];
const TENANT2 = [3, 4];

/** An application ORM of its own (boot's fixes the pool options), as the application role. */
async function appOrm(t: Booted, options: Partial<Options<PostgreSqlDriver>> = {}): Promise<Orm> {
  return (await MikroORM.init(
    withRls(
      // No ensureDatabase at init: it needs a connection, which some of these pools refuse on purpose.
      { entities: tenantEntities, clientUrl: t.db.appUrl, allowGlobalContext: true, ensureDatabase: false, pool: { min: 0, max: 1 }, ...options },
      { bypassRole: t.db.roles.bypass },
    ),
  )) as never;
}

/** Tenant 1 through every scoped path: entity find, a transaction, raw SQL outside a transaction. */
async function tenant1Sees(orm: Orm) {
  const fork = orm.em.forkWithRls({ account_id: 1 });
  return {
    find: ids(await fork.find(Project, {})),
    transaction: await orm.em.forkWithRls({ account_id: 1 }).transactional(async (em) => ids(await em.find(Project, {}))),
    execute: ((await fork.execute('select id from projects order by id')) as { id: number }[]).map((r) => r.id),
  };
}
const ONLY_TENANT1 = { find: TENANT1, transaction: TENANT1, execute: TENANT1 };

/** A scoped message that commits `SET ROLE <bypass>` and a session-level context value, then fails. */
const leaveSessionState = (t: Booted, failing = 'select 1/0') => `set role ${t.db.roles.bypass}; set rls.account_id = '1'; commit; ${failing}`;

async function whatTheNextUsersSee(orm: Orm) {
  const [state] = await orm.em.fork().execute(`select current_user as who, coalesce(current_setting('rls.account_id', true), '') as account`);
  const unscoped = ids(await orm.em.fork().find(Project, {}));
  const tenant2 = ids(await orm.em.forkWithRls({ account_id: 2 }).find(Project, {}));
  return { who: state.who, account: state.account, unscoped, tenant2 };
}
const ISOLATED = { who: 'rls_test_app', account: '', unscoped: [], tenant2: TENANT2 };

const OPEN_TRANSACTIONS = `select count(*)::int as open from pg_stat_activity where datname = current_database() and usename = 'rls_test_app' and state like 'idle in transaction%'`;

/**
 * How work fails when the only connection a pool can make is left inside a transaction by a pool hook:
 * knex's validate keeps refusing it, so acquires time out (MikroORM 6); pg-pool hands it out and the pg
 * client refuses to run anything on it (MikroORM 7).
 */
const NOT_HANDED_OUT = mikroOrmTreeOfThisRun() === 'v7' ? /handed out a connection that was not idle/ : ACQUIRE_TIMEOUT;

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());

/** Each case starts from no backend of the application role, so none is inherited from the last. */
async function closeAppBackends(): Promise<void> {
  await t.db.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and usename = $1`, [t.db.roles.app]);
}

describe('1. a pool.afterCreate of the application', () => {
  let orm: Orm | undefined;
  beforeEach(closeAppBackends);
  afterEach(async () => {
    await orm?.close(true);
    orm = undefined;
  });

  it("that sets tenant 2 as the session's context variable and a search_path: tenant 1 still sees only its rows", async () => {
    orm = await appOrm(t, {
      ...onNewConnection((conn) => conn.query(`select pg_catalog.set_config('rls.account_id', '2', false); set search_path = public`)),
    });
    expect(await tenant1Sees(orm)).toEqual(ONLY_TENANT1);
    expect(ids(await orm.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual(TENANT2);
    expect(await tenant1Sees(orm)).toEqual(ONLY_TENANT1);
  });

  it("that switches the new connection to the bypass role: the switch is undone before the connection's first use, on every new connection", async () => {
    // The hook's SQL is unscoped work like any other: reset before anyone uses the connection, so that
    // every use starts from the session the role check checked (once per pool) and no new connection's
    // first statement runs as the bypass role.
    orm = await appOrm(t, onNewConnection((conn) => conn.query(`set role ${t.db.roles.bypass}`), { min: 0, max: 2 }));
    const who = (em: { execute(sql: string): Promise<unknown> }) => em.execute('select current_user as who');
    const [first, second, plain] = await Promise.all([tenant1Sees(orm), orm.em.forkWithRls({ account_id: 2 }).find(Project, {}), who(orm.em.fork())]);
    expect(first).toEqual(ONLY_TENANT1);
    expect(ids(second)).toEqual(TENANT2);
    expect(plain).toEqual([{ who: TEST_ROLES.app }]);
    expect(await Promise.all([who(orm.em.forkWithRls({ account_id: 1 })), who(orm.em.forkWithRls({ account_id: 2 }))])).toEqual([
      [{ who: TEST_ROLES.app }],
      [{ who: TEST_ROLES.app }],
    ]);
  });

  it('that fails (done(err)): scoped work gets that error, not a hang', async () => {
    orm = await appOrm(t, {
      ...onNewConnection(() => Promise.reject(new Error('afterCreate refused the connection'))),
    });
    await expect(orm.em.forkWithRls({ account_id: 1 }).find(Project, {})).rejects.toThrow(/afterCreate refused the connection/);
    await expect(orm.em.forkWithRls({ account_id: 1 }).execute('select 1')).rejects.toThrow(/afterCreate refused the connection/);
    await expect(orm.em.forkWithRls({ account_id: 1 }).transactional((em) => em.find(Project, {}))).rejects.toThrow(/afterCreate refused the connection/);
    await expect(orm.em.bypassRls((em) => em.count(Project))).rejects.toThrow(/afterCreate refused the connection/);
  });

  it('that fails after setting the bypass role and tenant 2: that connection never reaches a user', async () => {
    let creates = 0;
    orm = await appOrm(t, {
      ...onNewConnection(async (conn) => {
        if (++creates > 1) return;
        await conn.query(`set role ${t.db.roles.bypass}; select pg_catalog.set_config('rls.account_id', '2', false)`);
        throw new Error('afterCreate failed half-way');
      }),
    });
    // MikroORM.init's own connection check may have taken the failing create; make sure one did.
    if (creates === 0) await expect(orm.em.fork().execute('select 1')).rejects.toThrow(/afterCreate failed half-way/);
    expect(await tenant1Sees(orm)).toEqual(ONLY_TENANT1);
    expect(await whatTheNextUsersSee(orm)).toEqual(ISOLATED);
  });
  it('that leaves the new connection inside a transaction: no user gets that connection', async () => {
    // The transaction carries tenant 2 as its context: its first user (the role check, a tenant, an
    // unscoped fork) would run in it. The pool cannot hand out a connection then: acquires time out.
    orm = await appOrm(t, {
      ...mergeOptions(
        onNewConnection((conn) => conn.query(`begin; select pg_catalog.set_config('rls.account_id', '2', true)`)),
        acquireTimeout(500),
      ),
    });
    await expect(orm.em.fork().execute('select now() = statement_timestamp() as own_transaction')).rejects.toThrow(NOT_HANDED_OUT);
    await expect(orm.em.forkWithRls({ account_id: 1 }).find(Project, {})).rejects.toThrow(NOT_HANDED_OUT);
    await expect(orm.em.forkWithRls({ account_id: 1 }).execute('select id from projects')).rejects.toThrow(NOT_HANDED_OUT);
  });

  it('that fails: the connection it failed on is closed, not left open with the state it set', async () => {
    orm = await appOrm(t, {
      ...mergeOptions(
        connectionParams({ application_name: 'edge_failed_after_create' }),
        onNewConnection(async (conn) => {
          await conn.query(`set role ${t.db.roles.bypass}`);
          throw new Error('afterCreate failed half-way');
        }),
      ),
    });
    for (let i = 0; i < 3; i++) await expect(orm.em.forkWithRls({ account_id: 1 }).find(Project, {})).rejects.toThrow(/afterCreate failed half-way/);
    const open = () => t.db.query(`select pid from pg_stat_activity where application_name = 'edge_failed_after_create'`);
    for (let i = 0; i < 100 && (await open()).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await open()).toEqual([]);
  });
});

describe('2. driverOptions.connection options', () => {
  describe("'-c rls.account_id=2' as a connection option", () => {
    let b: Booted;
    beforeAll(async () => {
      b = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1, extra: connectionParams({ options: '-c rls.account_id=2' }) });
    });
    afterAll(() => b?.close());

    it('tenant 1 still sees only its rows, before and after other tenants used the connection', async () => {
      expect(await tenant1Sees(b.app as Orm)).toEqual(ONLY_TENANT1);
      expect(ids(await b.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual(TENANT2);
      await expect(b.app.em.forkWithRls({ account_id: 2 }).execute(`set rls.account_id = '2'; commit; select 1/0`)).rejects.toThrow(/division by zero/);
      expect(await tenant1Sees(b.app as Orm)).toEqual(ONLY_TENANT1);
    });
  });

  describe("'-c role=<bypass role>' as a connection option", () => {
    let orm: Orm | undefined;
    afterAll(() => orm?.close(true));

    it('scoped work fails, it does not run as the bypass role', async () => {
      orm = await appOrm(t, connectionParams({ options: `-c role=${TEST_ROLES.bypass}` }));
      await expect(orm.em.forkWithRls({ account_id: 1 }).find(Project, {})).rejects.toThrow(/permission denied to set role|has BYPASSRLS/);
      await expect(orm.em.forkWithRls({ account_id: 1 }).execute('select id from projects')).rejects.toThrow(/permission denied to set role|has BYPASSRLS/);
    });
  });

  describe('a server-side statement_timeout', () => {
    let b: Booted;
    beforeAll(async () => {
      b = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1, extra: connectionParams({ statement_timeout: 200 }) });
    });
    beforeEach(() => b.db.query(RESET_SQL));
    afterAll(() => b?.close());

    const timedOut = (work: Promise<unknown>) => expect(work).rejects.toThrow(/statement timeout/);
    async function nextTenantIsIsolated() {
      const seen = await b.app.em.forkWithRls({ account_id: 2 }).transactional(async (em) => {
        const [{ open }] = await em.execute(OPEN_TRANSACTIONS);
        return { projects: ids(await em.find(Project, {})), open };
      });
      expect(seen).toEqual({ projects: TENANT2, open: 0 });
      expect(await whatTheNextUsersSee(b.app as Orm)).toEqual(ISOLATED);
      expect(await b.db.query(`select id from projects where title = 't1 write'`)).toEqual([]);
    }

    it.each([
      ['first', ['select pg_sleep(1)']],
      ['second', [`insert into projects (title, account_id) values ('t1 write', 1)`, 'select pg_sleep(1)']],
    ])('a scoped transaction whose %s statement is cancelled leaves no connection in a transaction', async (_at, statements) => {
      await timedOut(
        b.app.em.forkWithRls({ account_id: 1 }).transactional(async (em) => {
          for (const statement of statements) await em.execute(statement);
        }),
      );
      await nextTenantIsIsolated();
    });

    it('a scoped transaction that commits the bypass role in raw SQL, then is cancelled, leaves no state', async () => {
      await timedOut(
        b.app.em.forkWithRls({ account_id: 1 }).transactional(async (em) => {
          await em.find(Project, {});
          await em.execute(`set role ${b.db.roles.bypass}; commit; begin; select pg_sleep(1)`);
        }),
      );
      await nextTenantIsIsolated();
    });

    it('a scoped message that commits session state, then is cancelled, leaves no state', async () => {
      await timedOut(b.app.em.forkWithRls({ account_id: 1 }).execute(leaveSessionState(b, 'select pg_sleep(1)')));
      await nextTenantIsIsolated();
    });

    it('a bypass transaction that is cancelled leaves no connection in a transaction', async () => {
      await timedOut(b.app.em.bypassRls((em) => em.execute('select pg_sleep(1)')));
      await nextTenantIsIsolated();
    });
  });

  describe('a server-side idle_in_transaction_session_timeout', () => {
    let b: Booted;
    beforeAll(async () => {
      b = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1, extra: connectionParams({ idle_in_transaction_session_timeout: 200 }) });
    });
    afterAll(() => b?.close());

    /** Resolves once the server has ended backend `pid` (it does so when the transaction sits idle too long). */
    async function serverEnded(pid: number) {
      for (let i = 0; i < 200 && (await b.db.query('select 1 from pg_stat_activity where pid = $1', [pid])).length > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }

    it('a scoped transaction the server ends neither commits its writes nor hands its connection on', async () => {
      await expect(
        b.app.em.forkWithRls({ account_id: 1 }).transactional(async (em) => {
          await em.execute(`insert into projects (title, account_id) values ('t1 write', 1)`);
          const [{ pid }] = await em.execute('select pg_backend_pid() as pid');
          await serverEnded(pid);
          await em.execute(`set role ${b.db.roles.bypass}`);
        }),
      ).rejects.toThrow();
      expect(await whatTheNextUsersSee(b.app as Orm)).toEqual(ISOLATED);
      expect(await tenant1Sees(b.app as Orm)).toEqual(ONLY_TENANT1);
      expect(await b.db.query(`select id from projects where title = 't1 write'`)).toEqual([]);
    });
  });
});

describe('3. a tiny pool.acquireTimeoutMillis while a session reset is pending', () => {
  let orm: Orm | undefined;
  beforeEach(closeAppBackends);
  afterEach(async () => {
    await orm?.close(true);
    orm = undefined;
  });

  /** Runs `work` until it gets a connection within the tiny timeout (a new connection takes longer). */
  async function onceAcquired<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (attempt > 200 || !ACQUIRE_TIMEOUT.test(String((error as Error).message))) throw error;
      }
    }
  }

  it('an acquire that times out while the reset is stuck does not leave the unreset connection to a later one', async () => {
    orm = await appOrm(t, acquireTimeout(tinyAcquireTimeout(5)));
    await onceAcquired(() => orm!.em.forkWithRls({ account_id: 1 }).execute('select 1'));
    const locker = new Client({ connectionString: t.db.superUrl });
    await locker.connect();
    try {
      // Unscoped work on a client of the pool leaves a role, a context value and a temporary table, which
      // another session locks before the client goes back: the reset sent then (DISCARD TEMP) waits for
      // the lock. MikroORM 6's pool guard awaits it on the next acquire, MikroORM 7's before releasing.
      const pid = await onceAcquired(() =>
        withRawPoolClient(orm!, async (client) => {
          await client.query(`create temp table held (i int); set role ${t.db.roles.bypass}; set rls.account_id = '1'`);
          const { rows } = await client.query('select pg_backend_pid() as pid, pg_my_temp_schema()::regnamespace::text as schema');
          await locker.query(`begin; lock table ${rows[0].schema as string}.held in access exclusive mode`);
          return rows[0].pid;
        }),
      );
      await expect(orm.em.fork().execute('select current_user as who')).rejects.toThrow(ACQUIRE_TIMEOUT);
      // Later users, while that connection's reset is still stuck behind the lock, on another backend.
      expect(await onceAcquired(() => whatTheNextUsersSee(orm!))).toEqual(ISOLATED);
      const [{ other }] = await onceAcquired(() => orm!.em.fork().execute('select pg_backend_pid() as other'));
      expect(other).not.toBe(pid);
      expect(await t.db.query(`select wait_event_type as waits from pg_stat_activity where pid = $1`, [pid])).toEqual([{ waits: 'Lock' }]);
    } finally {
      await locker.query('commit');
      await locker.end();
    }
    expect(await onceAcquired(() => whatTheNextUsersSee(orm!))).toEqual(ISOLATED);
  });

  it('acquires that may time out while the reset runs leave no leaked role or setting', async () => {
    orm = await appOrm(t, acquireTimeout(tinyAcquireTimeout(1)));
    const tenant1 = orm.em.forkWithRls({ account_id: 1 });
    await onceAcquired(() => tenant1.execute('select 1'));
    for (let round = 0; round < 5; round++) {
      await expect(onceAcquired(() => tenant1.execute(leaveSessionState(t)))).rejects.toThrow(/division by zero/);
      await orm.em.fork().execute('select 1').catch((error: Error) => expect(error.message).toMatch(ACQUIRE_TIMEOUT));
      expect(await onceAcquired(() => whatTheNextUsersSee(orm!))).toEqual(ISOLATED);
    }
  });
});

describe("4. orm.config.set('replicas', [...]) after MikroORM.init, then orm.reconnect()", () => {
  let orm: Orm | undefined;
  beforeEach(closeAppBackends);
  afterEach(async () => {
    await orm?.close(true);
    orm = undefined;
  });

  const unguardedReplica = () => ({ name: 'late', clientUrl: t.db.appUrl, driverOptions: { pool: { min: 0, max: 1, validate: () => true } } });

  async function attackThroughReadConnection(o: Orm) {
    await expect(o.em.forkWithRls({ account_id: 1 }).getConnection('read').execute(leaveSessionState(t))).rejects.toThrow(/division by zero/);
    const [state] = await o.em.fork().getConnection('read').execute(`select current_user as who`);
    return { who: state.who, tenant2: ids(await o.em.forkWithRls({ account_id: 2 }).find(Project, {})), readTenant1: ids(await o.em.forkWithRls({ account_id: 1 }).find(Project, {})) };
  }
  const SAFE = { who: 'rls_test_app', tenant2: TENANT2, readTenant1: TENANT1 };

  it('replicas set on an ORM that had none', async () => {
    orm = await appOrm(t, { preferReadReplicas: true });
    orm.config.set('replicas', [unguardedReplica()] as never);
    await orm.reconnect();
    expect(await attackThroughReadConnection(orm)).toEqual(SAFE);
  });

  it('replicas replaced on an ORM that had one', async () => {
    orm = await appOrm(t, { preferReadReplicas: true, replicas: [{ name: 'r1', clientUrl: t.db.appUrl }] as never });
    orm.config.set('replicas', [unguardedReplica()] as never);
    await orm.reconnect();
    expect(await attackThroughReadConnection(orm)).toEqual(SAFE);
  });

  it("replicas set together with a pool through orm.reconnect({ replicas, pool })", async () => {
    orm = await appOrm(t, { preferReadReplicas: true, replicas: [{ name: 'r1', clientUrl: t.db.appUrl }] as never });
    await orm.reconnect({ replicas: [unguardedReplica()] as never, pool: { min: 0, max: 1 } });
    expect(await attackThroughReadConnection(orm)).toEqual(SAFE);
  });
});

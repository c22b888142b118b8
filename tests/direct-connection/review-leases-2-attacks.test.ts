import { Client } from 'pg';
import type { EntityManager } from '@mikro-orm/postgresql';
import { MikroORM } from '@mikro-orm/postgresql';
import { withRls } from '../../src';
import type { Booted } from '../fixtures/boot';
import { bootWithConnectionHooks, type KyselyConnection } from '../fixtures/connection-hooks';
import { Project, tenantEntities } from '../fixtures/tenant-model';
import { outcome, sleep, within } from '../support/attack-outcomes';
import { ids } from '../support/ids';
import { mikroOrmTreeOfThisRun } from '../support/mikro-orm-tree';
import { expectNextUsersIsolated } from '../support/next-users-isolated';
import { TEST_ROLES } from '../support/test-roles';

// Second adversarial review of the leases (2e5116e, 3f482e1: Kysely connection hooks on a lease that
// ends with the hook, leasing recorded per Kysely client, callback/submittable queries handed to pg only
// after the first-use reset of a new connection), by a reviewer that did not write them. Each test
// asserts the SECURE (or functionally correct) outcome: a failing test is a break. Pool of 1, so the
// next user surely gets the connection an attack used; v7-only cases are registered on MikroORM 7 only.
// Its breaks at 3f482e1, fixed since: A1, A2 (a lease's end() was public and handed out the raw
// connection; on a transaction's lease it also lost the pg client for good), A3, A4 (hooks written into
// orm.config.getAll() were never wrapped: now guarded as each dialect is built), B1 (a driverOptions
// function that called createKyselyDialect passed the lease check: now the client itself is asked for a
// lease), C1 (a query pipelined behind a deferred first use overtook it), C2 (that query was sent when
// the reset failed, on the unreset session: a write ran as the bypass role), C3 (query({ text, callback }):
// the callback was never called). Not fixed, documented in the README: A7, a pg-pool onConnect hook
// that keeps its raw client and uses it later (kept on the review branch). Held: A5, A6, B2, B3, C4, C5.
const onV7 = mikroOrmTreeOfThisRun() === 'v7';
const itV7 = (name: string, body: () => Promise<void>, timeout?: number) => (onV7 ? it(name, body, timeout) : undefined);
const whoAmI = 'select current_user as who';
const probe = `select coalesce(current_setting('rls.account_id', true), '') as account, current_user as who, (select count(*) from projects)::int as n`;
const UNSCOPED_PROBE = JSON.stringify([{ account: '', who: TEST_ROLES.app, n: 0 }]);
/** 'secure' when the attack was refused (or hung) or gave one of `allowed`; else what it got. */
const secure = (attack: string, ...allowed: string[]) => (/^refused/.test(attack) || allowed.includes(attack) ? 'secure' : attack);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely objects, untyped for the v6 type-check
type Any = any;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- Kysely exists only in the v7 tree
const kyselyModule = (): Any => require('kysely');
const raw = (sql: string) => kyselyModule().CompiledQuery.raw(sql);
type RawClient = { query(sql: unknown, values?: unknown, cb?: unknown): Promise<{ rows: Record<string, unknown>[] }>; release(error?: unknown): void };
type RawPool = { connect(): Promise<RawClient> };
const nativePool = async (em: unknown) => (await (em as { getConnection(): { getNativeClient(): Promise<unknown> } }).getConnection().getNativeClient()) as RawPool;
type App = Booted['app'];
const forkOf = (orm: App, account: number) => orm.em.forkWithRls({ account_id: account });

let t: Booted;
const hooks = bootWithConnectionHooks((booted) => (t = booted));

/** Runs `attack` while tenant 2 holds the only connection of `orm` in its transaction. */
async function duringNextUsersTransaction(attack: () => Promise<string>, orm: App = t.app): Promise<{ attack: string; own: number[]; who: unknown }> {
  return forkOf(orm, 2).transactional(async (tx: EntityManager) => {
    await tx.find(Project, {});
    const result = await attack();
    return { attack: result, own: ids(await tx.find(Project, {}, { refresh: true })), who: await tx.execute(whoAmI) };
  });
}

const initApp = (options: unknown) => MikroORM.init(options as never) as unknown as Promise<App>;
const ormOptions = (extra: object = {}) =>
  withRls({ entities: tenantEntities, allowGlobalContext: true, clientUrl: t.db.appUrl, pool: { min: 0, max: 1 }, ...extra } as never, { bypassRole: t.db.roles.bypass });

/** What an own ORM must leave behind (expectNextUsersIsolated for the shared one). */
async function ownOrmIsolated(orm: App): Promise<void> {
  expect(ids(await forkOf(orm, 2).find(Project, {}))).toEqual([3, 4]);
  expect(await orm.em.fork().execute(whoAmI)).toEqual([{ who: TEST_ROLES.app }]);
}

/** Ends the application role's backends and lets the pools notice: the next acquire makes a new connection. */
async function replaceIdleConnections(): Promise<void> {
  await t.db.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and usename = $1`, [t.db.roles.app]);
  await sleep(200);
}

/** Runs `work` with a superuser session that can lock another session's temporary table. */
async function withLocker<T>(work: (locker: Client) => Promise<T>): Promise<T> {
  const locker = new Client({ connectionString: t.db.superUrl });
  await locker.connect();
  try {
    return await work(locker);
  } finally {
    await locker.query('rollback').catch(() => undefined);
    await locker.end();
  }
}

type Queryable = { query(sql: string): Promise<{ rows: Record<string, unknown>[] }> };
/** A pool hook's SQL on a new connection: the bypass role, and (with `locker`) a session reset that will fail. */
async function hookSql(client: Queryable, locker?: Client): Promise<void> {
  await client.query(`set role ${TEST_ROLES.bypass}`);
  if (!locker) return;
  await client.query(`set lock_timeout = '50ms'; create temp table held_open (id int)`);
  const { rows } = await client.query(`select pg_my_temp_schema()::regnamespace::text as schema`);
  await locker.query('begin');
  await locker.query(`lock table ${String(rows[0].schema)}.held_open in access share mode`);
}

describe('A. connection hooks and their leases (MikroORM 7)', () => {
  itV7("A1 an onReserveConnection hook that calls end() on its lease (a public method) and keeps what it returns runs nothing in the next tenant's transaction", async () => {
    let kept: KyselyConnection | undefined;
    hooks.onReserve = (connection) => {
      kept ??= (connection.end?.() as KyselyConnection | undefined) ?? connection;
    };
    await t.app.em.fork().execute('select 1');
    hooks.onReserve = undefined;
    const seen = await duringNextUsersTransaction(() => outcome(within(kept!.executeQuery(raw(probe)).then((r) => r.rows))));
    expect(secure(seen.attack, UNSCOPED_PROBE)).toBe('secure');
    expect(seen.own).toEqual([3, 4]);
    await expectNextUsersIsolated(t);
  });

  itV7("A2 the lease of a transaction's executor, ended by hand (end()) and kept: the raw connection is refused later, and the pool is not left a connection short", async () => {
    const orm = await initApp(ormOptions());
    let rawConnection: Any;
    try {
      // (the transaction's own COMMIT is then refused: its lease is over)
      await outcome(
        within(
          forkOf(orm, 1).transactional(async (tx: EntityManager) => {
            await tx.find(Project, {});
            await (tx as unknown as { getKysely(): Any }).getKysely().getExecutor().provideConnection(async (connection: Any) => {
              rawConnection = connection.end();
            });
          }),
        ),
      );
      const next = await outcome(within(forkOf(orm, 2).find(Project, {}).then(ids)));
      const attack = await outcome(within(Promise.resolve().then(() => rawConnection.executeQuery(raw(probe))).then((r: { rows: unknown[] }) => r.rows)));
      expect({ next, attack: secure(attack, UNSCOPED_PROBE) }).toEqual({ next: '[3,4]', attack: 'secure' });
    } finally {
      // The pg client Kysely never got back (its release went to the ended lease): give it back by hand, or close() waits for ever.
      const release = rawConnection && Object.getOwnPropertySymbols(Object.getPrototypeOf(rawConnection)).find((s) => typeof rawConnection[s] === 'function');
      if (release) {
        try {
          rawConnection[release]();
        } catch {
          // already released
        }
      }
      await orm.close(true);
    }
  });

  itV7("A3 an onReserveConnection hook written into orm.config.getAll() (below withRls), then reconnect: the connection it kept runs nothing in the next tenant's transaction", async () => {
    const orm = await initApp(ormOptions());
    try {
      expect(ids(await forkOf(orm, 1).find(Project, {}))).toEqual([1, 2]);
      let kept: KyselyConnection | undefined;
      (orm.config.getAll() as unknown as Record<string, unknown>).onReserveConnection = (connection: KyselyConnection) => {
        kept ??= connection;
      };
      await orm.reconnect();
      await orm.em.fork().execute('select 1');
      const seen = await duringNextUsersTransaction(() => outcome(within(kept!.executeQuery(raw(probe)).then((r) => r.rows))), orm);
      expect(secure(seen.attack, UNSCOPED_PROBE)).toBe('secure');
      expect(seen.own).toEqual([3, 4]);
      await ownOrmIsolated(orm);
    } finally {
      await orm.close(true);
    }
  });

  itV7("A4 an onCreateConnection hook written into orm.config.getAll(), then reconnect: the connection it kept runs nothing in the next tenant's transaction", async () => {
    const orm = await initApp(ormOptions());
    try {
      expect(ids(await forkOf(orm, 1).find(Project, {}))).toEqual([1, 2]);
      let kept: KyselyConnection | undefined;
      (orm.config.getAll() as unknown as Record<string, unknown>).onCreateConnection = async (connection: KyselyConnection) => {
        kept ??= connection;
      };
      await orm.reconnect();
      await orm.em.fork().execute('select 1');
      expect(kept).toBeDefined();
      const seen = await duringNextUsersTransaction(() => outcome(within(kept!.executeQuery(raw(probe)).then((r) => r.rows))), orm);
      expect(secure(seen.attack, UNSCOPED_PROBE)).toBe('secure');
      expect(seen.own).toEqual([3, 4]);
      await ownOrmIsolated(orm);
    } finally {
      await orm.close(true);
    }
  });

  itV7("A5 an onReserveConnection hook given to orm.reconnect(options): the connection it kept runs nothing in the next tenant's transaction", async () => {
    const orm = await initApp(ormOptions());
    try {
      let kept: KyselyConnection | undefined;
      await orm.reconnect({
        onReserveConnection: (connection: KyselyConnection) => {
          kept ??= connection;
        },
      } as never);
      await orm.em.fork().execute('select 1');
      const seen = await duringNextUsersTransaction(() => outcome(within(kept!.executeQuery(raw(probe)).then((r) => r.rows))), orm);
      expect(secure(seen.attack, UNSCOPED_PROBE)).toBe('secure');
      expect(seen.own).toEqual([3, 4]);
      await ownOrmIsolated(orm);
    } finally {
      await orm.close(true);
    }
  });

  itV7('A6 an onReserveConnection hook of a replica (its own options): the connection it kept is refused once the hook returned', async () => {
    let kept: KyselyConnection | undefined;
    const orm = await initApp(
      ormOptions({
        preferReadReplicas: true,
        replicas: [
          {
            name: 'r1',
            clientUrl: t.db.appUrl,
            onReserveConnection: (connection: KyselyConnection) => {
              kept ??= connection;
            },
          },
        ],
      }),
    );
    try {
      expect(ids(await forkOf(orm, 1).find(Project, {}, { connectionType: 'read' } as never))).toEqual([1, 2]);
      expect(kept).toBeDefined();
      const attack = await outcome(within(kept!.executeQuery(raw(probe)).then((r) => r.rows)));
      expect(attack).toMatch(/^refused/);
    } finally {
      await orm.close(true);
    }
  });

});

describe('B. the lease guard, per Kysely client (MikroORM 7)', () => {
  itV7('B1 driverOptions replaced (orm.config.getAll()) by a function that builds the leasing dialect but returns a Kysely of its own, then reconnect: scoped work is refused', async () => {
    const orm = await initApp(ormOptions());
    try {
      expect(ids(await forkOf(orm, 1).find(Project, {}))).toEqual([1, 2]);
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- pg of the v7 tree
      const { Pool } = require('pg') as { Pool: new (o: object) => unknown };
      const { Kysely, PostgresDialect } = kyselyModule();
      const guarded = orm.config.get('driverOptions' as never);
      const connection = (orm as unknown as { driver: { getConnection(): unknown } }).driver.getConnection() as unknown as { createKyselyDialect(o: unknown): unknown };
      (orm.config.getAll() as { driverOptions: unknown }).driverOptions = () => {
        connection.createKyselyDialect(guarded); // the guarded pool, the native client the pool guard checks
        return new Kysely({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: t.db.appUrl, max: 1 }) }) });
      };
      await orm.reconnect();
      const escaped = await outcome(forkOf(orm, 1).execute(`set role ${t.db.roles.bypass}; commit; select 1/0`));
      const who = await orm.em.fork().execute(whoAmI);
      // The prototype's createKysely reads the connection's own (guarded) driverOptions, so the client it
      // builds is leased and guarded again: the escape is refused (by the guard, or as a failed message whose
      // reset runs before the next use), and the next plain fork runs as the application role.
      expect(escaped).toMatch(/^refused/);
      expect(who).toEqual([{ who: TEST_ROLES.app }]);
    } finally {
      await orm.close(true);
    }
  });

  itV7("B2 the primary connection's own options.driverOptions set to a Kysely instance while closed, then orm.connect() (twice): scoped work is refused", async () => {
    const orm = await initApp(ormOptions());
    try {
      expect(ids(await forkOf(orm, 1).find(Project, {}))).toEqual([1, 2]);
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- pg of the v7 tree
      const { Pool } = require('pg') as { Pool: new (o: object) => unknown };
      const { Kysely, PostgresDialect } = kyselyModule();
      await orm.close(true);
      const connection = (orm as unknown as { driver: { getConnection(): unknown } }).driver.getConnection() as unknown as { options: Record<string, unknown> };
      connection.options.driverOptions = new Kysely({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: t.db.appUrl, max: 1 }) }) });
      await orm.connect();
      await orm.connect();
      const escaped = await outcome(forkOf(orm, 1).execute(`set role ${t.db.roles.bypass}; commit; select 1/0`));
      const who = await orm.em.fork().execute(whoAmI);
      // The prototype's createKysely reads the connection's own (guarded) driverOptions, so the client it
      // builds is leased and guarded again: the escape is refused (by the guard, or as a failed message whose
      // reset runs before the next use), and the next plain fork runs as the application role.
      expect(escaped).toMatch(/^refused/);
      expect(who).toEqual([{ who: TEST_ROLES.app }]);
    } finally {
      await orm.close(true);
    }
  });

  itV7("B3 the prototype's createKysely called directly on the connection with a Kysely instance in driverOptions: scoped work is refused", async () => {
    const orm = await initApp(ormOptions());
    try {
      expect(ids(await forkOf(orm, 1).find(Project, {}))).toEqual([1, 2]);
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- pg of the v7 tree
      const { Pool } = require('pg') as { Pool: new (o: object) => unknown };
      const { Kysely, PostgresDialect } = kyselyModule();
      const connection = (orm as unknown as { driver: { getConnection(): unknown } }).driver.getConnection() as unknown as object;
      (orm.config.getAll() as { driverOptions: unknown }).driverOptions = new Kysely({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: t.db.appUrl, max: 1 }) }) });
      (Object.getPrototypeOf(connection) as { createKysely(this: object): unknown }).createKysely.call(connection);
      const escaped = await outcome(forkOf(orm, 1).execute(`set role ${t.db.roles.bypass}; commit; select 1/0`));
      const who = await orm.em.fork().execute(whoAmI);
      // The prototype's createKysely reads the connection's own (guarded) driverOptions, so the client it
      // builds is leased and guarded again: the escape is refused (by the guard, or as a failed message whose
      // reset runs before the next use), and the next plain fork runs as the application role.
      expect(escaped).toMatch(/^refused/);
      expect(who).toEqual([{ who: TEST_ROLES.app }]);
    } finally {
      await orm.close(true);
    }
  });
});

describe('C. the reset before the first use of a new connection (pg-pool onConnect ran SQL; MikroORM 7)', () => {
  /** An own ORM whose pg-pool onConnect hook sets the bypass role (and, when armed, makes the reset fail). */
  async function hookedOrm(locker?: Client): Promise<{ orm: App; arm(): void }> {
    let armed = false;
    const orm = await initApp(
      ormOptions({
        driverOptions: {
          onConnect: async (client: Queryable) => {
            const was = armed;
            armed = false;
            await hookSql(client, was ? locker : undefined);
          },
        },
      }),
    );
    return { orm, arm: () => (armed = true) };
  }

  itV7('C1 two queries pipelined on a raw client that is the first use of a new connection run in the order they were issued', async () => {
    const { orm } = await hookedOrm();
    try {
      const pool = await nativePool(orm.em);
      await replaceIdleConnections();
      const client = await pool.connect();
      try {
        const first = client.query(`select set_config('app.marker', 'set by the first', false) as v`);
        const second = client.query(`select current_setting('app.marker', true) as v`);
        const [, seen] = await Promise.all([first, second]);
        expect(seen.rows).toEqual([{ v: 'set by the first' }]);
      } finally {
        client.release();
      }
      await ownOrmIsolated(orm);
    } finally {
      await orm.close(true);
    }
  });

  itV7("C2 a write pipelined behind the first use of a new connection whose reset fails (onConnect's SET ROLE <bypass> stays): it is never sent", async () => {
    await withLocker(async (locker) => {
      const { orm, arm } = await hookedOrm(locker);
      try {
        const pool = await nativePool(orm.em);
        await replaceIdleConnections();
        arm();
        const client = await pool.connect();
        const first = client.query('select 1').then(
          () => 'ran',
          (e: Error) => e.message,
        );
        // A write: sent on the unreset session, it runs as the bypass role (the app role's policies refuse it).
        const second = client
          .query(`with written as (insert into projects (id, title, account_id) values (91, 'written', 2) returning id) select current_user as who, (select count(*)::int from written) as n`)
          .then(
            (r) => JSON.stringify(r.rows),
            (e: Error) => e.message,
          );
        const seen = await within(Promise.all([first, second]), 5000).catch(async (e: Error) => [e.message, await outcome(within(second, 100))]);
        client.release();
        await locker.query('rollback');
        const written = await t.db.query('select id from projects where id = 91');
        expect({ first: seen[0], second: seen[1], written }).toEqual({ first: expect.stringMatching(/session reset of a new connection .* failed/), second: expect.not.stringMatching(new RegExp(TEST_ROLES.bypass)), written: [] });
      } finally {
        await locker.query('rollback').catch(() => undefined);
        await orm.close(true);
      }
    });
  });

  itV7('C3 pg\'s query({ text, callback }) form as the first use of a new connection whose reset fails: the callback gets the error (no hang), nothing is sent', async () => {
    await withLocker(async (locker) => {
      const { orm, arm } = await hookedOrm(locker);
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const pool = await nativePool(orm.em);
        await replaceIdleConnections();
        arm();
        const client = await pool.connect();
        const seen = await outcome(
          within(
            new Promise((resolve, reject) =>
              (client.query as unknown as (config: object) => void)({
                text: `insert into projects (id, title, account_id) values (92, 'written', 2)`,
                callback: (error: Error | null, result: unknown) => (error ? reject(error) : resolve(result)),
              }),
            ),
          ),
        );
        client.release();
        await locker.query('rollback');
        await sleep(50);
        expect(seen).toMatch(/session reset of a new connection .* failed/);
        expect(await t.db.query('select id from projects where id = 92')).toEqual([]);
        expect(unhandled).toEqual([]);
      } finally {
        process.removeListener('unhandledRejection', onUnhandled);
        await locker.query('rollback').catch(() => undefined);
        await orm.close(true);
      }
    });
  });

  itV7('C4 a pg-cursor as the first use of a new connection whose reset fails: its read gets the error, and the cursor\'s write is never sent', async () => {
    await withLocker(async (locker) => {
      const { orm, arm } = await hookedOrm(locker);
      try {
        const pool = await nativePool(orm.em);
        await replaceIdleConnections();
        arm();
        const client = await pool.connect();
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- pg-cursor of the v7 tree
        const Cursor = require('pg-cursor') as new (text: string) => { read(n: number): Promise<unknown[]>; close(): Promise<void> };
        const cursor = (client.query as unknown as (c: unknown) => typeof Cursor.prototype)(
          new Cursor(`with written as (insert into projects (id, title, account_id) values (93, 'written', 2) returning id) select current_user as who from written`),
        );
        const seen = await outcome(within(cursor.read(10)));
        client.release();
        await locker.query('rollback');
        expect(seen).toMatch(/^refused: .*session reset of a new connection .* failed/);
        expect(await t.db.query('select id from projects where id = 93')).toEqual([]);
      } finally {
        await locker.query('rollback').catch(() => undefined);
        await orm.close(true);
      }
    });
  });

  itV7('C5 query(text, values, callback) and query({ text }) (promise) as the first use of a new connection: the hook\'s role is reset first', async () => {
    const { orm } = await hookedOrm();
    try {
      const pool = await nativePool(orm.em);
      for (const form of ['text-values-callback', 'config-promise'] as const) {
        await replaceIdleConnections();
        const client = await pool.connect();
        try {
          const rows =
            form === 'config-promise'
              ? (await client.query({ text: `select current_user as who, $1::int as x`, values: [1] })).rows
              : await new Promise((resolve, reject) =>
                  (client.query as unknown as (t: string, v: unknown[], cb: (e: Error | null, r: { rows: unknown[] }) => void) => void)(
                    `select current_user as who, $1::int as x`,
                    [1],
                    (e, r) => (e ? reject(e) : resolve(r.rows)),
                  ),
                );
          expect({ form, rows }).toEqual({ form, rows: [{ who: TEST_ROLES.app, x: 1 }] });
        } finally {
          client.release();
        }
      }
      await ownOrmIsolated(orm);
    } finally {
      await orm.close(true);
    }
  });
});

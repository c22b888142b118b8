import type { Options } from '@mikro-orm/core';
import { MikroORM, type PostgreSqlDriver } from '@mikro-orm/postgresql';
import { RlsConfigurationError, withRls, type RlsEntityManager } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';
import { acquireTimeout, connectionParams, mergeOptions, onNewConnection, tinyAcquireTimeout } from '../support/pool-of-either-major';

// Attacks on tenant isolation tried by the seventh adversarial review that were refused: those through
// connection startup options and pool.afterCreate, which need a direct connection to PostgreSQL (a
// transaction-mode PgBouncer refuses startup options and shares backends between connections). Each states the
// secure outcome; they document what was tried. Its two breaks, now fixed, are tested in
// nested-bypass-unscoped.test.ts and role-check-after-reconnect.test.ts.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('connection and pool options of the application ORM', () => {
  let t: Booted;
  beforeAll(async () => {
    t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
  });
  afterAll(() => t?.close());

  /** A second application ORM (as the application role) with these options; closed after `work`. */
  async function withApp(extra: Partial<Options<PostgreSqlDriver>>, work: (orm: MikroORM) => Promise<void>) {
    const orm = await MikroORM.init(withRls({ entities: tenantEntities, allowGlobalContext: true, clientUrl: t.db.appUrl, connect: false, ...extra }, { bypassRole: t.db.roles.bypass }) as never);
    try {
      await work(orm);
    } finally {
      await orm.close(true);
    }
  }
  const em = (orm: MikroORM) => orm.em as unknown as RlsEntityManager;

  it("driverOptions.connection options '-c role=<bypass>': scoped queries are refused by the role check", async () => {
    await withApp(connectionParams({ options: `-c role=${'rls_test_bypass'}` }), async (orm) => {
      await expect(em(orm).forkWithRls({ account_id: 1 }).find(Project, {})).rejects.toThrow(RlsConfigurationError);
      await expect(em(orm).bypassRls((e) => e.count(Project))).rejects.toThrow(RlsConfigurationError);
    });
  });

  it("pool.afterCreate that runs SET ROLE <bypass>: the switch is undone before the connection's first use, so scoped queries run isolated", async () => {
    // Refused by the role check until the session reset after unscoped work (a pool hook's SQL included)
    // made every use of a connection start from the session the check checks.
    await withApp(onNewConnection((conn) => conn.query(`set role ${'rls_test_bypass'}`)), async (orm) => {
      expect(ids(await em(orm).forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
      expect(await em(orm).forkWithRls({ account_id: 2 }).execute('select current_user as who')).toEqual([{ who: t.db.roles.app }]);
      expect(await em(orm).fork().execute('select current_user as who')).toEqual([{ who: t.db.roles.app }]);
    });
  });

  it('pool.afterCreate that fails: the scoped query fails, and does not hang', async () => {
    await withApp(mergeOptions(onNewConnection(() => Promise.reject(new Error('afterCreate failed'))), acquireTimeout(2000)), async (orm) => {
      await expect(em(orm).forkWithRls({ account_id: 1 }).find(Project, {})).rejects.toThrow();
    });
  });

  it('statement_timeout and idle_in_transaction_session_timeout from the connection: errors, no leak, no hang', async () => {
    await withApp({ pool: { min: 0, max: 1 }, ...connectionParams({ options: '-c statement_timeout=150 -c idle_in_transaction_session_timeout=150' }) }, async (orm) => {
      await expect(em(orm).forkWithRls({ account_id: 1 }).transactional((e) => e.execute('select pg_sleep(1)'))).rejects.toThrow(/statement timeout/);
      await expect(
        em(orm).forkWithRls({ account_id: 1 }).transactional(async (e) => {
          await e.find(Project, {});
          await sleep(500);
          return e.find(Project, {});
        }),
      ).rejects.toThrow();
      expect(ids(await em(orm).forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
      expect(ids(await em(orm).fork().find(Project, {}))).toEqual([]);
    });
  });

  it('a tiny acquireTimeoutMillis that aborts a pending session reset does not hand out the unreset connection', async () => {
    await withApp({ pool: { min: 0, max: 1 }, ...acquireTimeout(tinyAcquireTimeout(1)) }, async (orm) => {
      await em(orm).forkWithRls({ account_id: 1 }).find(Project, {}).catch(() => undefined);
      await expect(em(orm).forkWithRls({ account_id: 1 }).execute(`set role ${'rls_test_bypass'}; commit; select 1/0`)).rejects.toThrow();
      // The next acquires may time out while the pending reset runs; whatever gets through is isolated.
      for (let i = 0; i < 5; i++) {
        const seen = await em(orm)
          .forkWithRls({ account_id: 2 })
          .find(Project, {})
          .then((rows) => ids(rows).join(','), () => 'timeout');
        expect(['timeout', '3,4']).toContain(seen);
        const [who] = await em(orm).fork().execute('select current_user as who').catch(() => [{ who: 'timeout' }]);
        expect(['timeout', t.db.roles.app]).toContain(who.who);
      }
    });
  });
});

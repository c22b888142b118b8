import { RequestContext, TransactionPropagation, type MikroORM as CoreMikroORM } from '@mikro-orm/core';
import {  type PostgreSqlDriver } from '@mikro-orm/postgresql';
import {  type RlsEntityManager } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { tenantOrmAt } from '../support/tenant-orm';
import { ids } from '../support/ids';
import { expectNextUsersIsolated } from '../support/next-users-isolated';
import { TEST_ROLES } from '../support/test-roles';
import { connectionParams } from '../support/pool-of-either-major';

// Attacks of the ninth adversarial review that were refused. Each asserts the secure outcome.

type Orm = CoreMikroORM<PostgreSqlDriver, RlsEntityManager>;
const nested = { propagation: 'nested' } as const;
const outcome = (work: Promise<{ id: number }[]>) => work.then((rows) => JSON.stringify(ids(rows)), () => 'refused');

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());

const ormAt = tenantOrmAt;

const nextTenantIsolated = () => expectNextUsersIsolated(t);

describe('nested bypass steps', () => {
  beforeEach(() => freshBackends(t));

  it('four savepoints deep: SET ROLE in the step is reset at the top-level end; every manager of the chain is refused meanwhile', async () => {
    expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
    const seen: string[] = [];
    await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      await tx.find(Project, {});
      await tx.transactional((a) =>
        a.transactional((b) =>
          b.transactional((c) =>
            c.bypassRls(async (admin) => {
              await admin.execute(`set role ${t.db.roles.bypass}`);
              for (const em of [tx, a, b, c]) seen.push(await outcome(em.find(Project, {}, { refresh: true })));
            }, nested),
          ),
        ),
      );
      seen.push(JSON.stringify(ids(await tx.find(Project, {}, { refresh: true }))));
    });
    expect(seen).toEqual(['refused', 'refused', 'refused', 'refused', '[1,2]']);
    await nextTenantIsolated();
  });

  it('a nested step inside a nested step (awaited): the caller runs as the tenant afterwards, and the next tenant is isolated', async () => {
    const after = await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      await tx.find(Project, {});
      const inner = await tx.bypassRls((admin) => admin.bypassRls(async (admin2) => {
        await admin2.execute(`select set_config('role', '${t.db.roles.bypass}', false)`);
        return ids(await admin2.find(Project, {}));
      }, nested), nested);
      return { inner, rows: ids(await tx.find(Project, {}, { refresh: true })), who: await tx.execute('select current_user as who') };
    });
    expect(after).toEqual({ inner: [1, 2, 3, 4], rows: [1, 2], who: [{ who: TEST_ROLES.app }] });
    await nextTenantIsolated();
  });

  it('two nested steps started at once from one transaction (sibling savepoints): both run, then the caller is the tenant again', async () => {
    const after = await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      await tx.find(Project, {});
      const counts = await Promise.all([tx.bypassRls((a) => a.count(Project), nested), tx.bypassRls((a) => a.count(Project), nested)]);
      return { counts, rows: ids(await tx.find(Project, {}, { refresh: true })) };
    });
    expect(after).toEqual({ counts: [4, 4], rows: [1, 2] });
    await nextTenantIsolated();
  });

  it('a callback that sets the role at session level and then throws: undone, the caller continues as the tenant', async () => {
    const rows = await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      await tx.find(Project, {});
      await tx.bypassRls(async (admin) => {
        await admin.execute(`set role ${t.db.roles.bypass}`);
        throw new Error('boom');
      }, nested).catch(() => undefined);
      return ids(await tx.find(Project, {}, { refresh: true }));
    });
    expect(rows).toEqual([1, 2]);
    await nextTenantIsolated();
  });

  it('a COMMIT that fails (deferred unique violation) after a nested step set the role at session level: the next tenant is isolated', async () => {
    await expect(
      t.app.em.fork().transactional(async (tx) => {
        await tx.bypassRls((admin) => admin.execute(`set role ${t.db.roles.bypass}`), nested);
        await tx.execute('create temp table a9_dx (id int unique deferrable initially deferred); insert into a9_dx values (1), (1)');
      }),
    ).rejects.toThrow(/duplicate key/);
    await nextTenantIsolated();
  });

  it('a scoped transaction whose COMMIT fails (deferred unique violation) after a nested step set the role at session level: the next tenant is isolated', async () => {
    await t.app.em
      .forkWithRls({ account_id: 1 })
      .transactional(async (tx) => {
        await tx.find(Project, {});
        await tx.bypassRls((admin) => admin.execute(`set role ${t.db.roles.bypass}`), nested);
        await tx.execute('create temp table a9_dy (id int unique deferrable initially deferred); insert into a9_dy values (1), (1)');
      })
      .catch(() => undefined);
    await nextTenantIsolated();
  });

  it("a scoped fork smuggling keepTransactionContext into the tenant's transaction does not join it", async () => {
    // forkWithRls never keeps the parent's transaction context (on MikroORM 6 a fork that did would be
    // refused on use); not joined, the fork would need a second connection, which this pool of 1 lacks.
    const joined = await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      await tx.find(Project, {});
      const smuggled = tx.forkWithRls({ account_id: 2 }, { keepTransactionContext: true } as never);
      return smuggled.getTransactionContext() !== undefined && smuggled.getTransactionContext() === tx.getTransactionContext();
    });
    expect(joined).toBe(false);
  });

  it('a useContext fork of a scoped fork, inside a RequestContext of another tenant, keeps its own scope', async () => {
    const tenant1 = t.app.em.forkWithRls({ account_id: 1 });
    const seen = await RequestContext.create(t.app.em.forkWithRls({ account_id: 2 }), async () => ids(await tenant1.fork({ useContext: true, clear: true }).find(Project, {})));
    expect(seen).toEqual([1, 2]);
  });
});

describe('nested bypass with a client-side timeout and REQUIRES_NEW (pool of two)', () => {
  let orm: Orm;
  beforeAll(async () => {
    orm = await ormAt(t.db.appUrl, { pool: { min: 0, max: 2 }, ...connectionParams({ query_timeout: 300 }) });
  });
  afterAll(() => orm?.close(true));

  it('a statement of the callback that times out client-side: the step fails, nothing hangs, the next tenants are isolated', async () => {
    await expect(
      orm.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
        await tx.find(Project, {});
        await tx.bypassRls((admin) => admin.execute('select pg_sleep(1)'), nested);
      }),
    ).rejects.toThrow();
    for (let i = 0; i < 3; i++) expect(ids(await orm.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  });

  it("REQUIRES_NEW of the tenant's own manager inside the callback runs as the tenant, in a transaction of its own", async () => {
    const seen = await orm.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      await tx.find(Project, {});
      return tx.bypassRls(
        () => tx.transactional(async (own) => ids(await own.find(Project, {})), { propagation: TransactionPropagation.REQUIRES_NEW }),
        nested,
      );
    });
    expect(seen).toEqual([1, 2]);
  });
});


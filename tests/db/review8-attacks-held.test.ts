import { RequestContext, TransactionPropagation, type MikroORM as CoreMikroORM } from '@mikro-orm/core';
import {  type PostgreSqlDriver } from '@mikro-orm/postgresql';
import {  type RlsEntityManager } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { tenantOrmAt } from '../support/tenant-orm';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { TEST_ROLES } from '../support/test-roles';
import { acquireTimeout, connectionParams, hookThatEndsItsConnection, mergeOptions, onNewConnection } from '../support/pool-of-either-major';

// Attacks of the eighth adversarial review that were refused. Each asserts the secure outcome.

type Orm = CoreMikroORM<PostgreSqlDriver, RlsEntityManager>;
const ids = (rows: { id: number }[]) => rows.map((p) => p.id).sort((a, b) => a - b);

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());

const ormAt = tenantOrmAt;

describe('two RLS ORMs with the same name (contextName "default")', () => {
  let other: Orm;
  beforeAll(async () => {
    other = await ormAt(t.db.appUrl, { pool: { min: 0, max: 2 } }, { prefix: 'other' });
  });
  afterAll(() => other?.close(true));

  it("the global manager inside the other RLS ORM's bypass transaction is not bypassed", async () => {
    const seen = await other.em.bypassRls(async () => ({
      rows: ids(await t.app.em.find(Project, {})),
      who: await t.app.em.execute('select current_user as who'),
    }));
    expect(seen).toEqual({ rows: [], who: [{ who: TEST_ROLES.app }] });
  });

  it("the global manager inside a RequestContext of the other RLS ORM's bypass fork is not bypassed", async () => {
    const seen = await RequestContext.create(other.em.bypassRls(), async () => ids(await t.app.em.find(Project, {})));
    expect(seen).toEqual([]);
  });

  it("a useContext scoped fork inside a RequestContext of the other ORM's bypass fork keeps its own scope", async () => {
    const seen = await RequestContext.create(other.em.bypassRls(), async () => ids(await t.app.em.forkWithRls({ account_id: 2 }, { useContext: true }).find(Project, {})));
    expect(seen).toEqual([3, 4]);
  });

  it("a RequestContext of this ORM's scoped fork inside the other ORM's bypass transaction keeps its scope", async () => {
    const seen = await other.em.bypassRls(() => RequestContext.create(t.app.em.forkWithRls({ account_id: 1 }), async () => ids(await t.app.em.find(Project, {}))));
    expect(seen).toEqual([1, 2]);
  });

  it("bypassRls(cb, nested) from this ORM's global manager inside the other ORM's transaction runs in its own transaction on this ORM", async () => {
    const who = await other.em.fork().transactional(() => t.app.em.bypassRls((admin) => admin.execute('select current_user as who'), { propagation: 'nested' }));
    expect(who).toEqual([{ who: TEST_ROLES.bypass }]);
  });
});

describe('nested bypass in an unscoped transaction: other transaction shapes', () => {
  beforeEach(() => freshBackends(t));

  it('em.begin()/commit() of an unscoped fork: SET ROLE in the nested step does not reach the next tenant', async () => {
    expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
    const em = t.app.em.fork();
    await em.begin();
    await em.bypassRls((admin) => admin.execute(`set role ${t.db.roles.bypass}`), { propagation: 'nested' });
    await em.commit();
    expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  });

  it('em.begin()/rollback() of an unscoped fork: SET ROLE committed by raw SQL in the nested step does not reach the next tenant', async () => {
    expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
    const em = t.app.em.fork();
    await em.begin();
    await em.bypassRls((admin) => admin.execute(`set role ${t.db.roles.bypass}`), { propagation: 'nested' });
    await em.execute('commit; begin');
    await em.rollback();
    expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  });

  it('REQUIRES_NEW nested transaction of an unscoped transaction: SET ROLE in its nested step does not reach the next tenant', async () => {
    expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
    // Pool of one: the REQUIRES_NEW transaction would wait for the outer one's connection; use it alone.
    await t.app.em.fork().transactional(
      (inner) => inner.bypassRls((admin) => admin.execute(`set role ${t.db.roles.bypass}`), { propagation: 'nested' }),
      { propagation: TransactionPropagation.REQUIRES_NEW },
    );
    expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  });

  it('an unscoped transaction whose statement fails after a nested step set the role: the next tenant is not the bypass role', async () => {
    expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
    await t.app.em
      .fork()
      .transactional(async (tx) => {
        await tx.bypassRls((admin) => admin.execute(`set role ${t.db.roles.bypass}; commit; begin`), { propagation: 'nested' }).catch(() => undefined);
        await tx.execute('select 1/0');
      })
      .catch(() => undefined);
    expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  });

  it('a SCOPED transaction: SET ROLE in a nested step started from its savepoint is reset at the top-level COMMIT', async () => {
    expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
    await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tx) => {
      await tx.find(Project, {});
      await tx.transactional((inner) => inner.bypassRls((admin) => admin.execute(`set role ${t.db.roles.bypass}`), { propagation: 'nested' }));
    });
    expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  });

  it('two nested steps in one unscoped transaction (SET ROLE, then a session-level context value): both are reset at its end', async () => {
    expect(ids(await t.app.em.forkWithRls({ account_id: 1 }).find(Project, {}))).toEqual([1, 2]);
    await t.app.em.fork().transactional(async (tx) => {
      await tx.bypassRls((admin) => admin.execute(`set role ${t.db.roles.bypass}`), { propagation: 'nested' });
      await tx.bypassRls((admin) => admin.execute(`select set_config('rls.account_id', '1', false)`), { propagation: 'nested' });
    });
    expect(ids(await t.app.em.fork().find(Project, {}))).toEqual([]);
    expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
  });
});

describe('pool guard: a user afterCreate', () => {
  it('that calls done and then throws: the connection it ended is not handed out, the next scoped query works', async () => {
    const orm = await ormAt(t.db.appUrl, mergeOptions(hookThatEndsItsConnection(), acquireTimeout(1_000)));
    try {
      const seen = await orm.em
        .forkWithRls({ account_id: 1 })
        .find(Project, {})
        .then(ids, () => 'refused');
      expect(['refused', JSON.stringify([1, 2])]).toContain(typeof seen === 'string' ? seen : JSON.stringify(seen));
    } finally {
      await orm.close(true);
    }
  });

  it('that opens a transaction with a tenant setting: no scoped or unscoped query runs in it', async () => {
    const orm = await ormAt(t.db.appUrl, mergeOptions(onNewConnection((connection) => connection.query(`begin; select set_config('rls.account_id', '1', true)`)), acquireTimeout(1_000)));
    try {
      const unscoped = await orm.em.fork().find(Project, {}).then(ids, () => 'refused');
      expect(['refused', '[]']).toContain(typeof unscoped === 'string' ? unscoped : JSON.stringify(unscoped));
      const tenant2 = await orm.em.forkWithRls({ account_id: 2 }).find(Project, {}).then(ids, () => 'refused');
      expect(['refused', '[3,4]']).toContain(typeof tenant2 === 'string' ? tenant2 : JSON.stringify(tenant2));
    } finally {
      await orm.close(true);
    }
  });
});

describe('role check per pool', () => {
  it('a superuser login with `-c role=<app>` (the session default): the reset returns to the application role', async () => {
    const orm = await ormAt(t.db.superUrl, connectionParams({ options: `-c role=${t.db.roles.app}` }));
    try {
      const seen: string[] = [];
      for (const account of [1, 2, 1]) seen.push(JSON.stringify(ids(await orm.em.forkWithRls({ account_id: account }).find(Project, {}))));
      expect(seen).toEqual(['[1,2]', '[3,4]', '[1,2]']);
    } finally {
      await orm.close(true);
    }
  });

  describe('a read replica logged in as the superuser (the primary is the application role)', () => {
    const replicas = () => ({ replicas: [{ name: 'super', clientUrl: t.db.superUrl }] });

    it('preferReadReplicas: a scoped find is refused after the primary passed its check', async () => {
      const orm = await ormAt(t.db.appUrl, { ...replicas(), preferReadReplicas: true });
      try {
        await orm.em.forkWithRls({ account_id: 1 }).transactional((tx) => tx.count(Project));
        await expect(orm.em.forkWithRls({ account_id: 1 }).find(Project, {})).rejects.toThrow(/superuser/);
      } finally {
        await orm.close(true);
      }
    });

    it("em.getConnection('read').execute is refused", async () => {
      const orm = await ormAt(t.db.appUrl, replicas());
      try {
        await orm.em.forkWithRls({ account_id: 1 }).transactional((tx) => tx.count(Project));
        await expect(orm.em.forkWithRls({ account_id: 1 }).getConnection('read').execute('select count(*) from projects')).rejects.toThrow(/superuser/);
      } finally {
        await orm.close(true);
      }
    });

    it("a find with connectionType 'read' is refused", async () => {
      const orm = await ormAt(t.db.appUrl, replicas());
      try {
        await orm.em.forkWithRls({ account_id: 1 }).transactional((tx) => tx.count(Project));
        await expect(orm.em.forkWithRls({ account_id: 2 }).find(Project, {}, { connectionType: 'read' })).rejects.toThrow(/superuser/);
      } finally {
        await orm.close(true);
      }
    });
  });
});

describe('the fork slot', () => {
  it('forkWithRls, bypassRls and a plain fork made in turn each get their own scope (the slot is emptied)', async () => {
    const orm = t.app;
    const scoped = orm.em.forkWithRls({ account_id: 1 });
    const admin = orm.em.bypassRls();
    const plain = orm.em.fork();
    expect([scoped.rlsContext, admin.isRlsBypassed, plain.rlsContext, plain.isRlsBypassed]).toEqual([{ account_id: 1 }, true, undefined, false]);
    expect(ids(await plain.find(Project, {}))).toEqual([]);
  });

  it('a forkWithRls whose fork() throws (a failing subscriber getSubscribedEntities) leaves no driver in the slot for the next plain fork', async () => {
    let armed = false;
    const orm = await ormAt(t.db.appUrl, {
      subscribers: [
        {
          getSubscribedEntities() {
            if (armed) throw new Error('subscriber failed');
            return [Project];
          },
        },
      ],
    });
    try {
      armed = true;
      expect(() => orm.em.forkWithRls({ account_id: 1 }, { freshEventManager: true })).toThrow('subscriber failed');
      armed = false;
      const plain = orm.em.fork();
      expect(plain.rlsContext).toBeUndefined();
      expect(ids(await plain.find(Project, {}))).toEqual([]);
    } finally {
      await orm.close(true);
    }
  });
});

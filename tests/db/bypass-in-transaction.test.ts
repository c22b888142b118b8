import { RequestContext } from '@mikro-orm/core';
import { RlsConfigurationError } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// bypassRls(cb) inside a scoped transaction: by default a transaction of its own; with
// `propagation: 'nested'` a savepoint of the caller's transaction, as the bypass role for the callback
// only. Two pooled connections: the default form needs a second one while the caller holds the first.

let t: Booted;
const tenant1 = () => t.app.em.forkWithRls({ account_id: 1 });
const nested = { propagation: 'nested' } as const;
const titles = (rows: Project[]) => rows.map((p) => p.title).sort();
const superTitle = async (id: number) => (await t.db.query<{ title: string }>(`select title from projects where id = $1`, [id]))[0]?.title;
const whoAmI = `select current_user as "user", current_setting('role') as role, coalesce(current_setting('rls.account_id', true), '') as account`;

beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 2 });
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(() => t?.close());

/** Both pooled connections, held at once, each answer as the app role with no role or context left. */
async function bothConnectionsAreClean() {
  let started = 0;
  let bothStarted!: () => void;
  const barrier = new Promise<void>((resolve) => (bothStarted = resolve));
  const check = () =>
    t.app.em.fork().transactional(async (em) => {
      const [row] = await em.execute(`${whoAmI}, pg_backend_pid() as pid`);
      if (++started === 2) bothStarted();
      await barrier;
      return row as { user: string; role: string; account: string; pid: number };
    });
  const [a, b] = await Promise.all([check(), check()]);
  expect(a.pid).not.toBe(b.pid);
  for (const { user, role, account } of [a, b]) expect({ user, role, account }).toEqual({ user: 'rls_test_app', role: 'none', account: '' });
  const open = await t.db.query(`select 1 from pg_stat_activity where datname = current_database() and usename = 'rls_test_app' and state like 'idle in transaction%'`);
  expect(open).toEqual([]);
}

it('by default runs in a transaction of its own, which does not see the caller uncommitted rows', async () => {
  await tenant1().transactional(async (em) => {
    em.create(Project, { title: 'uncommitted', account: 1 });
    await em.flush();
    expect(titles(await em.bypassRls((admin) => admin.find(Project, {})))).toEqual(['p1', 'p2', 'p3', 'p4']);
  });
});

it('nested, sees the caller uncommitted rows and every tenant rows', async () => {
  await tenant1().transactional(async (em) => {
    em.create(Project, { title: 'uncommitted', account: 1 });
    await em.flush();
    const seen = await em.bypassRls(async (admin) => titles(await admin.find(Project, {})), nested);
    expect(seen).toEqual(['p1', 'p2', 'p3', 'p4', 'uncommitted']);
  });
});

it('nested, runs as the bypass role and the caller transaction runs as the tenant again afterwards', async () => {
  await tenant1().transactional(async (em) => {
    const inside = await em.bypassRls(async (admin) => (await admin.execute(whoAmI))[0], nested);
    expect(inside).toEqual({ user: 'rls_test_bypass', role: 'rls_test_bypass', account: '1' });
    expect(await em.execute(whoAmI)).toEqual([{ user: 'rls_test_app', role: 'none', account: '1' }]);
    expect(ids(await em.find(Project, {}))).toEqual([1, 2]);
  });
  await bothConnectionsAreClean();
});

it('nested, its writes commit with the caller transaction', async () => {
  await tenant1().transactional(async (em) => {
    await em.bypassRls((admin) => admin.nativeUpdate(Project, { id: 3 }, { title: 'by admin' }), nested);
    em.create(Project, { title: 'by tenant', account: 1 });
  });
  expect(await superTitle(3)).toBe('by admin');
  expect((await t.db.query(`select 1 from projects where title = 'by tenant'`)).length).toBe(1);
});

it('nested, its writes roll back with the caller transaction', async () => {
  const work = tenant1().transactional(async (em) => {
    await em.bypassRls((admin) => admin.nativeUpdate(Project, { id: 3 }, { title: 'by admin' }), nested);
    throw new Error('the request failed');
  });
  await expect(work).rejects.toThrow('the request failed');
  expect(await superTitle(3)).toBe('p3');
  await bothConnectionsAreClean();
});

it('nested, a callback that throws is undone, and the caller transaction continues as the tenant', async () => {
  await tenant1().transactional(async (em) => {
    const failing = em.bypassRls(async (admin) => {
      await admin.nativeUpdate(Project, { id: 3 }, { title: 'by admin' });
      throw new Error('admin step failed');
    }, nested);
    await expect(failing).rejects.toThrow('admin step failed');
    expect(await em.execute(whoAmI)).toEqual([{ user: 'rls_test_app', role: 'none', account: '1' }]);
    expect(ids(await em.find(Project, {}))).toEqual([1, 2]);
    await em.nativeUpdate(Project, { id: 1 }, { title: 'after' });
  });
  expect([await superTitle(1), await superTitle(3)]).toEqual(['after', 'p3']);
  await bothConnectionsAreClean();
});

it('nested, a callback that throws after a failed statement is undone, and the caller transaction continues as the tenant', async () => {
  await tenant1().transactional(async (em) => {
    const failing = em.bypassRls(async (admin) => {
      await admin.nativeUpdate(Project, { id: 3 }, { title: 'by admin' });
      await admin.execute('select 1 / 0');
    }, nested);
    await expect(failing).rejects.toThrow(/division by zero/);
    expect(await em.execute(whoAmI)).toEqual([{ user: 'rls_test_app', role: 'none', account: '1' }]);
    expect(ids(await em.find(Project, {}))).toEqual([1, 2]);
  });
  expect(await superTitle(3)).toBe('p3');
  await bothConnectionsAreClean();
});

it('nested, a statement of the caller sent while the callback runs is refused instead of running as the bypass role', async () => {
  await tenant1().transactional(async (em) => {
    let leaked: unknown;
    await em.bypassRls(async (admin) => {
      leaked = await em.find(Project, {}).catch((error: unknown) => error);
      return admin.count(Project);
    }, nested);
    expect(leaked).toBeInstanceOf(RlsConfigurationError);
    expect((leaked as Error).message).toMatch(/Await the bypass callback/);
    expect(ids(await em.find(Project, {}))).toEqual([1, 2]);
  });
});

it('nested, the entities the callback loaded are not handed to the caller', async () => {
  await tenant1().transactional(async (em) => {
    await em.bypassRls((admin) => admin.findOneOrFail(Project, 3), nested);
    expect(await em.findOne(Project, 3)).toBeNull();
  });
});

it('nested, the global EntityManager inside the callback runs in the savepoint as the bypass role', async () => {
  await RequestContext.create(tenant1(), () =>
    t.app.em.transactional(async () => {
      await t.app.em.execute(`insert into projects (title, account_id) values ('uncommitted', 1)`);
      expect(await t.app.em.bypassRls(() => t.app.em.count(Project), nested)).toBe(5);
      expect(await t.app.em.count(Project)).toBe(3);
    }),
  );
});

it('nested, outside any transaction runs in a transaction of its own as the bypass role', async () => {
  expect(await tenant1().bypassRls((admin) => admin.count(Project), nested)).toBe(4);
});

it('refuses a propagation other than requires_new and nested', () => {
  expect(() => tenant1().bypassRls(async () => undefined, { propagation: 'required' } as never)).toThrow(RlsConfigurationError);
});

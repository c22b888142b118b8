import { createHash } from 'node:crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import { withRls, type RlsEntityManager } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, Tag, Task, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// MikroORM's result cache is shared by every fork of an ORM. Each scope (a context, the bypass, no
// scope at all) must only ever read the entries it stored itself, whichever way caching is asked for.

let t: Booted;
const tenant = (account: number) => t.app.em.forkWithRls({ account_id: account });
const TTL = 60_000;

beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
});
// Every test starts with an empty cache and fresh rows, so no test reads another's entries.
beforeEach(async () => {
  await t.db.query(RESET_SQL);
  await t.app.config.getResultCacheAdapter().clear();
});
afterAll(() => t?.close());

it('find with cache returns each tenant its own rows', async () => {
  expect(ids(await tenant(1).find(Project, {}, { cache: TTL }))).toEqual([1, 2]);
  expect(ids(await tenant(2).find(Project, {}, { cache: TTL }))).toEqual([3, 4]);
});

it('findOne with cache does not hand one tenant the row another tenant cached', async () => {
  expect(await tenant(1).findOne(Project, { title: { $like: 'p%' } }, { cache: TTL, orderBy: { id: 'asc' } })).toMatchObject({ id: 1 });
  expect(await tenant(2).findOne(Project, { title: { $like: 'p%' } }, { cache: TTL, orderBy: { id: 'asc' } })).toMatchObject({ id: 3 });
});

it('count and findAndCount with cache count each tenant its own rows', async () => {
  expect(await tenant(1).count(Task, {}, { cache: TTL })).toBe(2);
  expect(await tenant(2).count(Task, {}, { cache: TTL })).toBe(1);
  const [rows1, count1] = await tenant(1).findAndCount(Tag, {}, { cache: TTL });
  const [rows2, count2] = await tenant(2).findAndCount(Tag, {}, { cache: TTL });
  expect([ids(rows1), count1]).toEqual([[1], 1]);
  expect([ids(rows2), count2]).toEqual([[2], 1]);
});

it('qb.cache() returns each tenant its own rows', async () => {
  const read = (account: number) => tenant(account).createQueryBuilder(Project).select('*').cache(TTL).getResultList();
  expect(ids(await read(1))).toEqual([1, 2]);
  expect(ids(await read(2))).toEqual([3, 4]);
});

it('an explicit cache key is kept apart per tenant', async () => {
  expect(ids(await tenant(1).find(Project, {}, { cache: ['projects', TTL] }))).toEqual([1, 2]);
  expect(ids(await tenant(2).find(Project, {}, { cache: ['projects', TTL] }))).toEqual([3, 4]);
});

it('a fork without context and a tenant do not read what a bypass fork cached', async () => {
  expect(ids(await t.app.em.bypassRls().find(Project, {}, { cache: TTL }))).toEqual([1, 2, 3, 4]);
  expect(await t.app.em.fork().find(Project, {}, { cache: TTL })).toEqual([]);
  expect(ids(await tenant(2).find(Project, {}, { cache: TTL }))).toEqual([3, 4]);
  expect(await t.app.em.fork().count(Project, {}, { cache: TTL })).toBe(0);
});

it('a bypass fork does not read what a fork without context cached', async () => {
  expect(await t.app.em.fork().find(Project, {}, { cache: TTL })).toEqual([]);
  expect(ids(await t.app.em.bypassRls().find(Project, {}, { cache: TTL }))).toEqual([1, 2, 3, 4]);
});

it('another fork with the same context reads the cached entry, and clearCache there removes it', async () => {
  expect(ids(await tenant(1).find(Project, {}, { cache: ['own', TTL] }))).toEqual([1, 2]);
  await t.db.query(`insert into projects (id, title, account_id) values (50, 'p50', 1)`);
  // Still the cached result: the cache works within a scope.
  expect(ids(await tenant(1).find(Project, {}, { cache: ['own', TTL] }))).toEqual([1, 2]);
  await tenant(1).clearCache('own');
  expect(ids(await tenant(1).find(Project, {}, { cache: ['own', TTL] }))).toEqual([1, 2, 50]);
});

it("a fork without context cannot name a tenant's entry: every scope's keys, its own included, are namespaced", async () => {
  expect(ids(await tenant(1).find(Project, {}, { cache: ['projects-list', TTL] }))).toEqual([1, 2]);
  // The scope identity is a deterministic hash of public values (the statement and the context values).
  const identity = createHash('sha256').update(JSON.stringify(["select pg_catalog.set_config('rls.account_id', ?, true)", ['1']])).digest('hex').slice(0, 32);
  expect(ids(await t.app.em.fork().find(Project, {}, { cache: [`rls:${identity}:projects-list`, TTL] }))).toEqual([]);
  await t.app.em.fork().clearCache(`rls:${identity}:projects-list`);
  expect(await t.app.config.getResultCacheAdapter().get(`rls:${identity}:projects-list`)).toBeDefined();
});

it('cache keys carry no context value', async () => {
  // Every key the shared cache adapter stores an entry under (MikroORM 7 keeps its Map #private).
  const adapter = t.app.config.getResultCacheAdapter();
  const keys: string[] = [];
  const set = adapter.set.bind(adapter);
  adapter.set = (name: string, ...rest: [unknown, string, number?]) => {
    keys.push(name);
    return set(name, ...rest);
  };
  try {
    await t.app.em.forkWithRls({ account_id: 987654 }).find(Project, {}, { cache: TTL });
    await t.app.em.forkWithRls({ account_id: 987654 }).find(Project, {}, { cache: ['named', TTL] });
  } finally {
    delete (adapter as { set?: unknown }).set;
  }
  expect(keys).toHaveLength(2);
  for (const key of keys) expect(key).not.toContain('987654');
});

describe('with a global result cache (no cache option on the calls)', () => {
  let orm: MikroORM<RlsEntityManager>;
  beforeAll(async () => {
    orm = (await MikroORM.init(
      withRls({ clientUrl: t.db.appUrl, entities: tenantEntities, pool: { min: 0, max: 2 }, resultCache: { global: TTL } }, { bypassRole: t.db.roles.bypass }),
    )) as never;
  });
  beforeEach(() => orm.config.getResultCacheAdapter().clear());
  afterAll(() => orm?.close(true));

  it('find, count and QueryBuilder return each tenant its own rows', async () => {
    const scoped = (account: number) => orm.em.forkWithRls({ account_id: account });
    expect(ids(await scoped(1).find(Project, {}))).toEqual([1, 2]);
    expect(ids(await scoped(2).find(Project, {}))).toEqual([3, 4]);
    expect(await scoped(1).count(Task)).toBe(2);
    expect(await scoped(2).count(Task)).toBe(1);
    expect(ids(await scoped(1).createQueryBuilder(Tag).select('*').getResultList())).toEqual([1]);
    expect(ids(await scoped(2).createQueryBuilder(Tag).select('*').getResultList())).toEqual([2]);
  });

  it('a fork without context does not read what a bypass fork cached', async () => {
    expect(ids(await orm.em.bypassRls().find(Project, {}))).toEqual([1, 2, 3, 4]);
    expect(await orm.em.fork().find(Project, {})).toEqual([]);
  });
});

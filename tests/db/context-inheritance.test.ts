import { RequestContext, Transactional } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, Task, tenantEntities } from '../fixtures/tenant-model';

// A scoped fork hands its context to everything MikroORM derives from it.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
});
afterAll(() => t?.close());

const ids = (rows: { id: number }[]) => rows.map((r) => r.id).sort((a, b) => a - b);

it('forks of a scoped fork keep its context', async () => {
  const fork = t.app.em.forkWithRls({ account_id: 2 }).fork().fork({ clear: false });
  expect(ids(await fork.find(Project, {}))).toEqual([3, 4]);
  expect(fork.rlsContext).toEqual({ account_id: 2 });
});

it('the global EntityManager inside RequestContext.create(scopedFork) is scoped on every path', async () => {
  const scoped = t.app.em.forkWithRls({ account_id: 2 });
  await RequestContext.create(scoped, async () => {
    const em = t.app.em;
    expect(ids(await em.find(Project, {}))).toEqual([3, 4]);
    expect(await em.count(Task)).toBe(1);
    expect(ids(await em.createQueryBuilder(Project).getResultList())).toEqual([3, 4]);
    expect(await em.execute('select count(*)::int as n from projects')).toEqual([{ n: 2 }]);
    expect(await em.getConnection().execute('select count(*)::int as n from tags')).toEqual([{ n: 1 }]);
    expect(em.rlsContext).toEqual({ account_id: 2 });
  });
});

it('two concurrent request contexts each see only their own rows', async () => {
  const run = (account: number) =>
    RequestContext.create(t.app.em.forkWithRls({ account_id: account }), async () => {
      const seen: number[][] = [];
      for (let i = 0; i < 5; i++) seen.push(ids(await t.app.em.find(Project, {})));
      return seen;
    });
  const [one, two] = await Promise.all([run(1), run(2)]);
  expect(one.every((rows) => rows.join() === '1,2')).toBe(true);
  expect(two.every((rows) => rows.join() === '3,4')).toBe(true);
});

it('@Transactional methods run in a transaction with the context', async () => {
  class ProjectService {
    constructor(private readonly em: EntityManager) {}

    @Transactional()
    async titles(): Promise<string[]> {
      const [{ account }] = await this.em.execute(`select current_setting('rls.account_id') as account`);
      const rows = await this.em.find(Project, {}, { orderBy: { id: 'asc' } });
      return [account, ...rows.map((p) => p.title)];
    }
  }
  expect(await new ProjectService(t.app.em.forkWithRls({ account_id: 1 })).titles()).toEqual(['1', 'p1', 'p2']);
});

it('a scoped fork made inside another transaction does not join it', async () => {
  await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (outer) => {
    const inner = outer.forkWithRls({ account_id: 2 });
    expect(ids(await inner.find(Project, {}))).toEqual([3, 4]);
    expect(ids(await outer.find(Project, {}))).toEqual([1, 2]);
  });
});

it('Promise.all on one scoped fork runs each statement in its own scoped transaction', async () => {
  const em = t.app.em.forkWithRls({ account_id: 1 });
  const counts = await Promise.all([em.count(Project), em.count(Task), em.count(Project), em.count(Task)]);
  expect(counts).toEqual([2, 2, 2, 2]);
});

import { RequestContext } from '@mikro-orm/core';
import { Transactional } from '../support/decorators';
import type { EntityManager } from '@mikro-orm/postgresql';
import { RlsConfigurationError } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, Tag, Task, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// A scoped fork hands its context to everything MikroORM derives from it.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
});
afterAll(() => t?.close());


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

describe('a request context made from a scoped fork inside a transaction of another scope', () => {
  const inRequest = <T>(em: Parameters<typeof RequestContext.create>[0], next: () => Promise<T>) => RequestContext.create(em, next);

  it('runs the global EntityManager with its own context inside a bypass transaction', async () => {
    const seen = await t.app.em.bypassRls(() =>
      inRequest(t.app.em.forkWithRls({ account_id: 2 }), async () => ({
        projects: ids(await t.app.em.find(Project, {})),
        count: await t.app.em.count(Task),
        raw: await t.app.em.execute('select count(*)::int as n from projects'),
        context: t.app.em.rlsContext,
        bypassed: t.app.em.isRlsBypassed,
      })),
    );
    expect(seen).toEqual({ projects: [3, 4], count: 1, raw: [{ n: 2 }], context: { account_id: 2 }, bypassed: false });
  });

  it('runs the global EntityManager with its own context inside another tenant transaction', async () => {
    const seen = await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tenant1) => {
      const inside = await inRequest(t.app.em.forkWithRls({ account_id: 2 }), async () => ids(await t.app.em.find(Project, {})));
      return { inside, after: ids(await tenant1.find(Project, {})) };
    });
    expect(seen).toEqual({ inside: [3, 4], after: [1, 2] });
  });

  it('made from a fork without context, sees no row inside a bypass transaction', async () => {
    const unscoped = t.app.em.fork();
    const seen = await t.app.em.bypassRls(() => inRequest(unscoped, async () => ids(await t.app.em.find(Project, {}))));
    expect(seen).toEqual([]);
  });

  it('a scoped fork with useContext runs with its own context inside a bypass transaction', async () => {
    const seen = await t.app.em.bypassRls(async () => {
      const fork = t.app.em.forkWithRls({ account_id: 2 }, { useContext: true });
      return { projects: ids(await fork.find(Project, {})), tags: await fork.count(Tag), context: fork.rlsContext };
    });
    expect(seen).toEqual({ projects: [3, 4], tags: 1, context: { account_id: 2 } });
  });

  it('a transaction started inside the request context is still used by the global EntityManager', async () => {
    await inRequest(t.app.em.forkWithRls({ account_id: 2 }), async () => {
      const inside = t.app.em.transactional(async () => {
        await t.app.em.execute(`insert into projects (title, account_id) values ('uncommitted', 2)`);
        expect(t.app.em.isInTransaction()).toBe(true);
        expect((await t.app.em.find(Project, {})).map((p) => p.title).sort()).toEqual(['p3', 'p4', 'uncommitted']);
        throw new Error('roll it back');
      });
      await expect(inside).rejects.toThrow('roll it back');
      expect(ids(await t.app.em.fork().forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
    });
  });

  it('a request context with the same context as the enclosing transaction runs in that transaction', async () => {
    const seen = await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (tenant1) => {
      await tenant1.execute(`insert into projects (title, account_id) values ('uncommitted', 1)`);
      const inside = await inRequest(t.app.em.forkWithRls({ account_id: 1 }), async () => (await t.app.em.find(Project, {})).map((p) => p.title).sort());
      await tenant1.execute(`delete from projects where title = 'uncommitted'`);
      return inside;
    });
    expect(seen).toEqual(['p1', 'p2', 'uncommitted']);
  });
});

it('forkWithRls refuses clear: false, so a fork never starts with entities loaded under another context', async () => {
  const tenant1 = t.app.em.forkWithRls({ account_id: 1 });
  await tenant1.findOneOrFail(Project, 1);
  expect(() => tenant1.forkWithRls({ account_id: 2 }, { clear: false } as never)).toThrow(RlsConfigurationError);
  expect(() => tenant1.forkWithRls({ account_id: 2 }, { clear: false } as never)).toThrow(/clear: false/);
  expect(await tenant1.forkWithRls({ account_id: 2 }).findOne(Project, 1)).toBeNull();
});

import { NotFoundError, ref } from '@mikro-orm/core';
import { boot, type Booted } from '../fixtures/boot';
import { Account, Project, RESET_SQL, Tag, Task, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// Every query path of a forkWithRls fork, one test each. Account 1 must see only its own rows, even where
// a relation (pivot row, foreign key) points across tenants; writes must land only on its own rows.

let t: Booted;
const tenant1 = () => t.app.em.forkWithRls({ account_id: 1 });
const superRows = (sql: string) => t.db.query(sql);

beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(() => t?.close());

describe('reads', () => {
  it('find returns only the tenant rows', async () => {
    expect(ids(await tenant1().find(Project, {}))).toEqual([1, 2]);
  });

  it('findOne finds an own row and not another tenant row', async () => {
    const em = tenant1();
    expect(await em.findOne(Project, 1)).toMatchObject({ title: 'p1' });
    expect(await em.findOne(Project, 3)).toBeNull();
  });

  it('findOneOrFail fails for another tenant row', async () => {
    const em = tenant1();
    await expect(em.findOneOrFail(Project, 2)).resolves.toMatchObject({ title: 'p2' });
    await expect(em.findOneOrFail(Project, 4)).rejects.toThrow(NotFoundError);
  });

  it('findAndCount counts only the tenant rows', async () => {
    const [rows, count] = await tenant1().findAndCount(Project, {});
    expect(ids(rows)).toEqual([1, 2]);
    expect(count).toBe(2);
  });

  it('count counts only the tenant rows', async () => {
    expect(await tenant1().count(Task)).toBe(2);
  });

  it('QueryBuilder results, counts and raw execute are scoped', async () => {
    const em = tenant1();
    expect(ids(await em.createQueryBuilder(Project).select('*').getResultList())).toEqual([1, 2]);
    expect(await em.createQueryBuilder(Project).getCount()).toBe(2);
    expect(await em.qb(Tag).select(['id']).execute('all', false)).toEqual([{ id: 1 }]);
    // MikroORM 6's QueryBuilder is thenable (awaiting it runs it); MikroORM 7's is not: its results come from getResultList.
    const qb = em.createQueryBuilder(Project).where({ id: { $in: [1, 3] } });
    expect(ids(await ('then' in qb ? qb : (qb as { getResultList(): Promise<Project[]> }).getResultList()))).toEqual([1]);
  });

  it('em.execute with raw SQL is scoped', async () => {
    const rows = await tenant1().execute('select id from projects order by id');
    expect(rows).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('em.getConnection().execute is scoped', async () => {
    const rows = await tenant1().getConnection().execute('select count(*)::int as n from tags');
    expect(rows).toEqual([{ n: 1 }]);
  });
});

describe('relations', () => {
  it('populate loads only the tenant rows of a 1:m and an m:n relation', async () => {
    const project = await tenant1().findOneOrFail(Project, 1, { populate: ['tasks', 'tags'] });
    expect(ids(project.tasks.getItems())).toEqual([1]);
    expect(ids(project.tags.getItems())).toEqual([1]);
  });

  it('em.populate on loaded entities is scoped', async () => {
    const em = tenant1();
    const project = await em.findOneOrFail(Project, 1);
    await em.populate(project, ['tasks', 'tags']);
    expect(ids(project.tasks.getItems())).toEqual([1]);
    expect(ids(project.tags.getItems())).toEqual([1]);
  });

  it('Collection.init of a 1:m relation is scoped', async () => {
    const project = await tenant1().findOneOrFail(Project, 1);
    await project.tasks.init();
    expect(ids(project.tasks.getItems())).toEqual([1]);
  });

  it('Collection.init of an m:n relation is scoped', async () => {
    const project = await tenant1().findOneOrFail(Project, 1);
    await project.tags.init();
    expect(ids(project.tags.getItems())).toEqual([1]);
  });

  it('Collection.load and loadCount are scoped', async () => {
    const project = await tenant1().findOneOrFail(Project, 1);
    expect(await project.tags.loadCount()).toBe(1);
    expect(ids((await project.tasks.load()).getItems())).toEqual([1]);
  });

  it('Reference.load finds an own parent and not another tenant parent', async () => {
    const em = tenant1();
    const own = await em.findOneOrFail(Task, 1);
    expect(await own.project.load()).toMatchObject({ id: 1, title: 'p1' });
    const crossing = await em.findOneOrFail(Task, 3);
    expect(await crossing.project.load()).toBeNull();
  });

  it('refresh reloads an own row and finds no other tenant row', async () => {
    const em = tenant1();
    const project = await em.findOneOrFail(Project, 1);
    await superRows(`update projects set title = 'changed' where id = 1`);
    expect(await em.refresh(project)).toMatchObject({ title: 'changed' });
    expect(await em.refresh(em.getReference(Project, 3))).toBeNull();
  });
});

describe('writes', () => {
  it('flush inserts rows of the tenant and refuses rows of another tenant', async () => {
    const em = tenant1();
    em.create(Project, { title: 'new', account: 1 });
    await em.flush();
    expect(await superRows(`select title, account_id from projects where id > 100`)).toEqual([{ title: 'new', account_id: 1 }]);

    const other = tenant1();
    other.create(Project, { title: 'intruder', account: 2 });
    await expect(other.flush()).rejects.toThrow(/row-level security/);
    expect(await superRows(`select id from projects where title = 'intruder'`)).toEqual([]);
  });

  it('flush updates own rows and cannot touch another tenant row', async () => {
    const em = tenant1();
    const project = await em.findOneOrFail(Project, 1);
    project.title = 'renamed';
    const foreign = em.getReference(Project, 3);
    foreign.title = 'hijacked';
    await em.flush();
    expect(await superRows(`select id, title from projects where id in (1, 3) order by id`)).toEqual([
      { id: 1, title: 'renamed' },
      { id: 3, title: 'p3' },
    ]);
  });

  it('flush cannot move an own row to another tenant', async () => {
    const em = tenant1();
    const project = await em.findOneOrFail(Project, 2);
    project.account = ref(Account, 2);
    await expect(em.flush()).rejects.toThrow(/row-level security/);
    expect(await superRows(`select account_id from projects where id = 2`)).toEqual([{ account_id: 1 }]);
  });

  it('flush deletes own rows and not another tenant row', async () => {
    const em = tenant1();
    em.remove(await em.findOneOrFail(Tag, 1));
    em.remove(em.getReference(Tag, 2));
    await em.flush();
    expect(await superRows(`select id from tags order by id`)).toEqual([{ id: 2 }]);
  });

  it('nativeUpdate changes only the tenant rows', async () => {
    expect(await tenant1().nativeUpdate(Project, {}, { title: 'bulk' })).toBe(2);
    expect(await superRows(`select id, title from projects order by id`)).toEqual([
      { id: 1, title: 'bulk' },
      { id: 2, title: 'bulk' },
      { id: 3, title: 'p3' },
      { id: 4, title: 'p4' },
    ]);
  });

  it('nativeDelete deletes only the tenant rows', async () => {
    expect(await tenant1().nativeDelete(Task, {})).toBe(2);
    expect(await superRows(`select id from tasks order by id`)).toEqual([{ id: 2 }]);
  });

  it('upsert updates an own row and cannot overwrite another tenant row', async () => {
    const em = tenant1();
    await em.upsert(Tag, { id: 1, label: 'mine', accountId: 1 });
    await expect(tenant1().upsert(Tag, { id: 2, label: 'stolen', accountId: 1 })).rejects.toThrow(/row-level security/);
    expect(await superRows(`select id, label, account_id from tags order by id`)).toEqual([
      { id: 1, label: 'mine', account_id: 1 },
      { id: 2, label: 't2', account_id: 2 },
    ]);
  });

  it('upsertMany inserts own rows', async () => {
    await tenant1().upsertMany(Tag, [
      { id: 7, label: 'a', accountId: 1 },
      { id: 8, label: 'b', accountId: 1 },
    ]);
    expect(await superRows(`select id from tags where account_id = 1 order by id`)).toEqual([{ id: 1 }, { id: 7 }, { id: 8 }]);
  });
});

describe('transactions', () => {
  it('transactional scopes reads and writes, and nested transactions (savepoints) too', async () => {
    const seen = await tenant1().transactional(async (em) => {
      const outer = ids(await em.find(Project, {}));
      const inner = await em.transactional(async (nested) => ids(await nested.find(Task, {})));
      em.create(Tag, { label: 'tx', accountId: 1 });
      return { outer, inner };
    });
    expect(seen).toEqual({ outer: [1, 2], inner: [1, 3] });
    expect(await superRows(`select account_id from tags where label = 'tx'`)).toEqual([{ account_id: 1 }]);
  });

  it('begin and commit scope the explicit transaction', async () => {
    const em = tenant1();
    await em.begin();
    try {
      expect(ids(await em.find(Project, {}))).toEqual([1, 2]);
      expect(await em.execute('select count(*)::int as n from projects')).toEqual([{ n: 2 }]);
      await em.nativeUpdate(Project, { id: 1 }, { title: 'in-tx' });
      await em.commit();
    } catch (error) {
      await em.rollback();
      throw error;
    }
    expect(await superRows(`select title from projects where id = 1`)).toEqual([{ title: 'in-tx' }]);
  });

  it('sets the context once per transaction, in one statement', async () => {
    t.queries.length = 0;
    await tenant1().transactional(async (em) => {
      await em.find(Project, {});
      await em.find(Task, {});
    });
    const setConfigs = t.queries.filter((q) => q.includes('set_config'));
    expect(setConfigs).toEqual(["select pg_catalog.set_config('rls.account_id', ?, true)"]);
  });
});

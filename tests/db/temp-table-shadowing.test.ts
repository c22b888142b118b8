import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';

// pg_temp comes first in the search path, and MikroORM names tables without a schema, so a temporary
// table named like an entity table would shadow it for every later user of the backend: the next
// tenant's MikroORM queries would read (and write) a table without RLS, filled by the previous request.
// Temporary tables made through a scoped or bypass fork end with its message or transaction (the
// session reset discards them). Pool of one, so the next user gets the same backend. Found by the
// adversarial review.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
});
afterAll(() => t?.close());

const SHADOW = `create temp table projects as select id, title || ' (copy)' as title, account_id from public.projects`;
const tenant2Sees = async () => (await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {})).map((p) => `${p.id}:${p.title}`).sort();

it("a scoped statement's temporary table is not what the next tenant's find reads", async () => {
  await t.app.em.forkWithRls({ account_id: 1 }).execute(SHADOW);
  expect(await tenant2Sees()).toEqual(['3:p3', '4:p4']);
});

it("a scoped transaction's temporary table is gone after it, committed or rolled back", async () => {
  await t.app.em.forkWithRls({ account_id: 1 }).transactional((em) => em.execute(SHADOW));
  expect(await tenant2Sees()).toEqual(['3:p3', '4:p4']);
  await expect(
    t.app.em.forkWithRls({ account_id: 1 }).transactional(async (em) => {
      await em.execute(`${SHADOW}; commit; begin`);
      throw new Error('request failed');
    }),
  ).rejects.toThrow('request failed');
  expect(await tenant2Sees()).toEqual(['3:p3', '4:p4']);
});

it("a bypass transaction's temporary table (every tenant's rows) is gone after it", async () => {
  await t.app.em.bypassRls((em) => em.execute(SHADOW));
  expect(await tenant2Sees()).toEqual(['3:p3', '4:p4']);
});

it('a temporary table still lives for the rest of its own transaction', async () => {
  const rows = await t.app.em.forkWithRls({ account_id: 1 }).transactional(async (em) => {
    await em.execute('create temp table scratch (n int)');
    await em.execute('insert into scratch values (1), (2)');
    return em.execute('select count(*)::int as n from scratch');
  });
  expect(rows).toEqual([{ n: 2 }]);
});

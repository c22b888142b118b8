import { auditRls, RlsViolationError } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { Project, RESET_SQL, Tag, tenantEntities } from '../fixtures/tenant-model';

// The pivot table of an m:n relation between RLS entities is protected by default: a link is visible and
// writable only when both rows it joins are visible to the same scope. RESET_SQL links project 1 (account
// 1) to tag 2 (account 2) on purpose.

let t: Booted;
const tenant1 = () => t.app.em.forkWithRls({ account_id: 1 });
const links = () => t.db.query(`select project_id, tag_id from project_tags order by 1, 2`);

beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL });
});
beforeEach(() => t.db.query(RESET_SQL));
afterAll(() => t?.close());

it('a tenant sees only the pivot rows whose both ends it can see', async () => {
  expect(await tenant1().execute('select project_id, tag_id from project_tags order by 1, 2')).toEqual([
    { project_id: 1, tag_id: 1 },
    { project_id: 2, tag_id: 1 },
  ]);
});

it('nativeDelete on the pivot entity deletes only the tenant links', async () => {
  expect(await tenant1().nativeDelete('project_tags', {})).toBe(2);
  expect(await links()).toEqual([
    { project_id: 1, tag_id: 2 },
    { project_id: 3, tag_id: 2 },
    { project_id: 4, tag_id: 2 },
  ]);
});

it('refuses a link between rows of another tenant, and one from an own row to a foreign row', async () => {
  await expect(tenant1().execute('insert into project_tags (project_id, tag_id) values (3, 1)')).rejects.toThrow(RlsViolationError);
  await expect(tenant1().execute('insert into project_tags (project_id, tag_id) values (2, 2)')).rejects.toThrow(RlsViolationError);
  expect(await links()).toHaveLength(5);
});

it('cannot move a link onto another tenant row with an update', async () => {
  await expect(tenant1().execute('update project_tags set tag_id = 2 where project_id = 2')).rejects.toThrow(RlsViolationError);
  expect(await links()).toContainEqual({ project_id: 2, tag_id: 1 });
});

it('collection.add of a reference to another tenant row is refused and writes no link', async () => {
  const em = tenant1();
  const project = await em.findOneOrFail(Project, 2, { populate: ['tags'] });
  project.tags.add(em.getReference(Tag, 2));
  await expect(em.flush()).rejects.toThrow(RlsViolationError);
  expect(await links()).not.toContainEqual({ project_id: 2, tag_id: 2 });
});

it('collection.add of an own row writes the link', async () => {
  const em = tenant1();
  const tag = em.create(Tag, { label: 'mine', accountId: 1 });
  const project = await em.findOneOrFail(Project, 2, { populate: ['tags'] });
  project.tags.add(tag);
  await em.flush();
  expect(await t.db.query(`select count(*)::int as n from project_tags where project_id = 2`)).toEqual([{ n: 2 }]);
});

it('the pivot table has RLS enabled and forced, and the audit finds nothing', async () => {
  expect(await t.db.query(`select relrowsecurity as enabled, relforcerowsecurity as forced from pg_class where oid = 'project_tags'::regclass`)).toEqual([
    { enabled: true, forced: true },
  ]);
  expect(await auditRls(t.app as never)).toEqual([]);
});

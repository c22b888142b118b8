import { boot, type Booted } from '../fixtures/boot';
import { freshBackends } from '../support/fresh-backends';
import { Project, RESET_SQL, tenantEntities } from '../fixtures/tenant-model';
import { ids } from '../support/ids';

// Found by the third adversarial review: the scope statement (`select set_config('rls.account_id', '2', true)`) and the reset
// (`select pg_advisory_unlock_all(), set_config(...)`) call their functions unqualified. pg_catalog is
// searched first only while search_path does not name it; `SET search_path = x, pg_catalog` puts x in
// front, and search_path is session state the reset leaves alone. A schema the application role may
// create functions in (PostgreSQL 14 and earlier: `public`, by default; here a schema of its own) then
// lets one tenant's raw SQL replace set_config for every later user of the backend: the next tenant's
// scope statement calls it, and runs with the first tenant's context.
// The app role stays NOSUPERUSER, NOBYPASSRLS and owns no RLS table. One pooled connection.

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: tenantEntities, seedSql: RESET_SQL, poolSize: 1 });
  await t.db.query(`create schema app_helpers; grant usage, create on schema app_helpers to ${t.db.roles.app}`);
  await t.db.assertAppRoleIsUnprivileged();
});
afterAll(() => t?.close());
beforeEach(() => freshBackends(t));


it('control: tenant 2 sees its own rows', async () => {
  expect(ids(await t.app.em.forkWithRls({ account_id: 2 }).find(Project, {}))).toEqual([3, 4]);
});

it("tenant 1's raw SQL cannot make tenant 2's next request run with account 1", async () => {
  await t.app.em.forkWithRls({ account_id: 1 }).execute(`
    create function app_helpers.set_config(text, text, boolean) returns text language sql as
      $$ select pg_catalog.set_config($1, case when $1 = 'rls.account_id' and $2 <> '' then '1' else $2 end, $3) $$;
    set search_path = app_helpers, public, pg_catalog`);
  const tenant2 = t.app.em.forkWithRls({ account_id: 2 });
  expect(tenant2.rlsContext).toEqual({ account_id: 2 });
  const [seen] = await tenant2.execute(`select current_setting('rls.account_id') as account, current_setting('search_path') as path`);
  const rows = ids(await tenant2.find(Project, {}));
  expect({ account: seen.account, rows }).toEqual({ account: '2', rows: [3, 4] });
});

it("tenant 1's raw SQL cannot route tenant 2's writes into a table tenant 1 reads (a persistent table, not a temporary one)", async () => {
  const tenant1 = t.app.em.forkWithRls({ account_id: 1 });
  await tenant1.execute(`
    create table app_helpers.projects (like public.projects including defaults);
    set search_path = app_helpers, public`);
  const tenant2 = t.app.em.forkWithRls({ account_id: 2 });
  tenant2.create(Project, { id: 50, title: 'secret of tenant 2', account: 2 } as never);
  await tenant2.flush();
  const stolen = await t.app.em.forkWithRls({ account_id: 1 }).execute(`select id, title, account_id from app_helpers.projects`);
  expect(stolen).toEqual([]);
  // And the row really is tenant 2's in the real table.
  expect(await t.db.query(`select id, account_id from public.projects where id = 50`)).toEqual([{ id: 50, account_id: 2 }]);
});

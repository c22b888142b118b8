import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// Every ```sql block of the README, run as it stands, in order, as a superuser in a fresh database, then
// the roles it creates are put to work: the owner creates an RLS table (as a migration would), the
// application role reads and writes it within its policy, the bypass role sees everything. All of it in
// one transaction that is rolled back, so the cluster-wide roles never outlive the test (CREATE ROLE is
// transactional; a concurrent run waits on the role names until this one rolls back).

const readmeSql = [...readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8').matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);

let db: TestDatabase;
let client: Client;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new Client({ connectionString: db.superUrl });
  await client.connect();
  await client.query('begin');
});

afterAll(async () => {
  await client?.query('rollback').catch(() => undefined); // the test may have failed mid-transaction; end() follows
  await client?.end();
  await db?.drop();
});

const sql = async (text: string) => (await client.query(text)).rows;

it('the README has the two SQL blocks (roles, then privileges)', () => {
  expect(readmeSql).toHaveLength(2);
  expect(readmeSql[0]).toMatch(/CREATE ROLE app_user/);
  expect(readmeSql[1]).toMatch(/ALTER DEFAULT PRIVILEGES FOR ROLE app_owner/);
});

it('runs as it stands, and the roles then work as the README says', async () => {
  for (const block of readmeSql) await sql(block);

  expect(await sql(`select rolname, rolsuper, rolbypassrls, rolcanlogin from pg_roles where rolname like 'app\\_%' order by rolname`)).toEqual([
    { rolname: 'app_bypass', rolsuper: false, rolbypassrls: true, rolcanlogin: false },
    { rolname: 'app_owner', rolsuper: false, rolbypassrls: false, rolcanlogin: true },
    { rolname: 'app_user', rolsuper: false, rolbypassrls: false, rolcanlogin: true },
  ]);

  // A later migration of the owner: covered by the default privileges, no extra GRANT.
  await sql('set role app_owner');
  await sql(`create table public.notes (id serial primary key, account_id integer not null, body text)
             ; alter table public.notes enable row level security
             ; alter table public.notes force row level security
             ; create policy own_account on public.notes using (account_id = (select nullif(current_setting('rls.account_id', true), '')::integer))`);
  await sql('reset role'); // FORCE holds the owner to the policy too: seed as the superuser
  await sql(`insert into public.notes (account_id, body) values (1, 'of account 1'), (2, 'of account 2')`);

  await sql('set role app_user');
  await sql(`select set_config('rls.account_id', '1', true)`);
  expect(await sql('select account_id, body from public.notes')).toEqual([{ account_id: 1, body: 'of account 1' }]);
  await sql(`insert into public.notes (account_id, body) values (1, 'new')`); // the sequence is usable too
  await sql('savepoint cross_account');
  await expect(client.query(`insert into public.notes (account_id, body) values (2, 'forged')`)).rejects.toThrow(/row-level security/);
  await sql('rollback to savepoint cross_account');
  await expect(client.query('savepoint s; create table public.mine (id int)')).rejects.toThrow(/permission denied for schema public/);
  await sql('rollback to savepoint s');

  await sql(`select set_config('role', 'app_bypass', true)`); // what bypassRls() does
  expect((await sql('select count(*)::int as n from public.notes'))[0].n).toBe(3);
});

import { Client } from 'pg';
import { runSql } from './support/sql-client';
import { superuserUrl } from './support/superuser-url';
import { createTestDatabase, grantSchemaUsage, type TestDatabase } from './support/test-database';
import { TEST_ROLES } from './support/test-roles';

// The harness itself: every isolation test relies on these roles and privileges being what they claim.

let db: TestDatabase;
const clients: Client[] = [];

async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  clients.push(client);
  await client.connect();
  return client;
}

const one = async <T>(client: Client, sql: string): Promise<T> => (await client.query(sql)).rows[0];

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await db?.drop();
});

it('the owner, application and bypass roles have exactly the attributes the setup promises', async () => {
  const roles = await db.query(
    `select rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole from pg_roles
      where rolname = any($1) order by rolname`,
    [Object.values(TEST_ROLES)],
  );
  expect(roles).toEqual([
    { rolname: 'rls_test_app', rolcanlogin: true, rolsuper: false, rolbypassrls: false, rolcreatedb: false, rolcreaterole: false },
    { rolname: 'rls_test_bypass', rolcanlogin: false, rolsuper: false, rolbypassrls: true, rolcreatedb: false, rolcreaterole: false },
    { rolname: 'rls_test_owner', rolcanlogin: true, rolsuper: false, rolbypassrls: false, rolcreatedb: false, rolcreaterole: false },
  ]);
  const [membership] = await db.query(`select pg_has_role('rls_test_app', 'rls_test_bypass', 'member') as member`);
  expect(membership).toEqual({ member: true });
});

it('a fresh database belongs to the owner role and the URLs log in as the role they name', async () => {
  const [database] = await db.query('select current_database() as name, pg_get_userbyid(datdba) as owner from pg_database where datname = current_database()');
  expect(database).toEqual({ name: db.name, owner: 'rls_test_owner' });
  for (const [url, role] of [[db.ownerUrl, 'rls_test_owner'], [db.appUrl, 'rls_test_app']]) {
    expect(await runSql(url, 'select current_user as role, current_database() as name')).toEqual([{ role, name: db.name }]);
  }
});

it('a table the owner creates is owned by the owner and readable and writable by the application role', async () => {
  await runSql(db.ownerUrl, 'create table harness_items (id serial primary key, label text not null)');
  const [table] = await db.query(`select tableowner from pg_tables where schemaname = 'public' and tablename = 'harness_items'`);
  expect(table).toEqual({ tableowner: 'rls_test_owner' });

  const app = await connect(db.appUrl);
  await app.query(`insert into harness_items (label) values ('a'), ('b')`);
  await app.query(`update harness_items set label = 'c' where label = 'b'`);
  await app.query(`delete from harness_items where label = 'a'`);
  expect((await app.query('select label from harness_items')).rows).toEqual([{ label: 'c' }]);
  await expect(db.assertAppRoleIsUnprivileged()).resolves.toBeUndefined();
});

it('the application role cannot change or drop the owner tables', async () => {
  await runSql(db.ownerUrl, 'create table harness_locked (id int)');
  const app = await connect(db.appUrl);
  await expect(app.query('alter table harness_locked disable row level security')).rejects.toThrow(/must be owner/);
  await expect(app.query('drop table harness_locked')).rejects.toThrow(/must be owner/);
});

it('the application role switches to the bypass role for one transaction only', async () => {
  const app = await connect(db.appUrl);
  await app.query('begin');
  await app.query(`select set_config('role', 'rls_test_bypass', true)`);
  expect(await one(app, 'select current_user as role')).toEqual({ role: 'rls_test_bypass' });
  await app.query('commit');
  expect(await one(app, 'select current_user as role')).toEqual({ role: 'rls_test_app' });
});

it('refuses an application role that owns a relation', async () => {
  await runSql(db.ownerUrl, 'create table harness_owned (id int)');
  await db.query('alter table harness_owned owner to rls_test_app');
  try {
    await expect(db.assertAppRoleIsUnprivileged()).rejects.toThrow(/harness_owned/);
  } finally {
    await db.query('alter table harness_owned owner to rls_test_owner');
  }
  await expect(db.assertAppRoleIsUnprivileged()).resolves.toBeUndefined();
});

it('a schema other than public is usable by the application role once its usage is granted', async () => {
  await runSql(db.ownerUrl, 'create schema "harness schema"; create table "harness schema".t (id int); insert into "harness schema".t values (1)');
  await expect(runSql(db.appUrl, 'select id from "harness schema".t')).rejects.toThrow(/permission denied for schema/);
  await grantSchemaUsage(db, 'harness schema');
  expect(await runSql(db.appUrl, 'select id from "harness schema".t')).toEqual([{ id: 1 }]);
});

it('drop removes the database even while connections to it are open', async () => {
  const scratch = await createTestDatabase('rls_scratch');
  const open = await connect(scratch.appUrl);
  open.on('error', () => undefined); // the server terminates it
  await scratch.drop();
  expect(await runSql(superuserUrl(), 'select datname from pg_database where datname = $1', [scratch.name])).toEqual([]);
});

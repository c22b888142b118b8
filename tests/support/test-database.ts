import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { passwordOf, TEST_ROLES } from './test-roles';

export interface TestDatabase {
  name: string;
  superUrl: string;
  ownerUrl: string;
  appUrl: string;
  roles: { owner: string; app: string; bypass: string };
  /** Runs SQL as superuser in this database (superusers bypass RLS: use it to seed and to check). */
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Throws unless the application role is NOSUPERUSER, NOBYPASSRLS and owns no relation here. */
  assertAppRoleIsUnprivileged(): Promise<void>;
  drop(): Promise<void>;
}

function superuserUrl(): string {
  const url = process.env.RLS_TEST_SUPERUSER_URL;
  if (!url) throw new Error('RLS_TEST_SUPERUSER_URL is not set: run the tests through jest (its global setup provides it).');
  return url;
}

function urlFor(base: string, database: string, role?: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  if (role) {
    url.username = role;
    url.password = passwordOf(role);
  }
  return url.toString();
}

async function run<T>(url: string, sql: string, params?: unknown[]): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query(sql, params as never[]);
    return (Array.isArray(res) ? res[res.length - 1] : res).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * A fresh database owned by the owner role, where the application and bypass roles get the privileges
 * an application needs (through default privileges) and nothing more.
 */
export async function createTestDatabase(prefix = 'rls_t'): Promise<TestDatabase> {
  const root = superuserUrl();
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const { owner, app, bypass } = TEST_ROLES;
  await run(root, `create database "${name}" owner "${owner}"`);
  const superUrl = urlFor(root, name);
  await run(
    superUrl,
    `grant usage on schema public to "${app}", "${bypass}";
     alter default privileges for role "${owner}" grant select, insert, update, delete on tables to "${app}", "${bypass}";
     alter default privileges for role "${owner}" grant usage, select, update on sequences to "${app}", "${bypass}";
     alter default privileges for role "${owner}" grant usage on schemas to "${app}", "${bypass}";`,
  );
  return {
    name,
    superUrl,
    ownerUrl: urlFor(root, name, owner),
    appUrl: urlFor(root, name, app),
    roles: { ...TEST_ROLES },
    query: (sql, params) => run(superUrl, sql, params),
    async assertAppRoleIsUnprivileged() {
      const [role] = await run<{ rolsuper: boolean; rolbypassrls: boolean }>(superUrl, 'select rolsuper, rolbypassrls from pg_roles where rolname = $1', [app]);
      const owned = await run<{ relname: string }>(superUrl, 'select relname from pg_class where relowner = (select oid from pg_roles where rolname = $1)', [app]);
      if (role?.rolsuper !== false || role?.rolbypassrls !== false || owned.length > 0) {
        throw new Error(`${app} must be NOSUPERUSER, NOBYPASSRLS and own nothing; found ${JSON.stringify({ role, owned })}.`);
      }
    },
    async drop() {
      await run(root, `drop database if exists "${name}" with (force)`);
    },
  };
}

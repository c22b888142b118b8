import { randomBytes } from 'node:crypto';
import { escapeIdentifier as id } from 'pg';
import { throughPgBouncer } from './pgbouncer';
import { runSql } from './sql-client';
import { superuserUrl } from './superuser-url';
import { passwordOf, TEST_ROLES, type TestRoles } from './test-roles';

export interface TestDatabase {
  /** Database name. */
  name: string;
  /** Superuser URL to this database. */
  superUrl: string;
  /** URL to this database as the owner role (runs DDL). */
  ownerUrl: string;
  /**
   * URL to this database as the unprivileged application role: through PgBouncer when the global setup
   * started one (RLS_TEST_PGBOUNCER=1), since isolation is what it proves; the other URLs stay direct.
   */
  appUrl: string;
  roles: TestRoles;
  /** Runs SQL as superuser in this database (superusers bypass RLS: use it to seed and to check). */
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Throws unless the application role is NOSUPERUSER, NOBYPASSRLS and owns no relation here. */
  assertAppRoleIsUnprivileged(): Promise<void>;
  /** Terminates the database's remaining connections and drops it. */
  drop(): Promise<void>;
}

/** The same server and options as `base`, another database and, optionally, another role. */
/** `base` (a superuser URL) pointed at `database`, as `role` (with its password) when given. */
export function urlFor(base: string, database: string, role?: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  if (role) {
    url.username = role;
    url.password = passwordOf(role);
  }
  return url.toString();
}

/**
 * A fresh database owned by the owner role, where the application and bypass roles get the privileges an
 * application needs on the owner's future tables and sequences (default privileges) and nothing more.
 */
export async function createTestDatabase(prefix = 'rls_t'): Promise<TestDatabase> {
  if (!/^[a-z_][a-z0-9_]{0,39}$/.test(prefix)) throw new Error(`Invalid test database prefix: ${prefix}`);
  const root = superuserUrl();
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const { owner, app, bypass } = TEST_ROLES;
  await runSql(root, `create database ${id(name)} owner ${id(owner)}`);
  const superUrl = urlFor(root, name);
  await runSql(
    superUrl,
    `grant usage on schema public to ${id(app)}, ${id(bypass)};
     alter default privileges for role ${id(owner)} grant select, insert, update, delete on tables to ${id(app)}, ${id(bypass)};
     alter default privileges for role ${id(owner)} grant usage, select, update on sequences to ${id(app)}, ${id(bypass)};`,
  );
  let dropped = false;
  return {
    name,
    superUrl,
    ownerUrl: urlFor(root, name, owner),
    appUrl: throughPgBouncer(urlFor(root, name, app)),
    roles: { ...TEST_ROLES },
    query: (sql, params) => runSql(superUrl, sql, params),
    assertAppRoleIsUnprivileged: () => assertAppRoleIsUnprivileged(superUrl),
    async drop() {
      if (dropped) return;
      dropped = true;
      // FORCE (PostgreSQL 13+) terminates the connections pools left open, which a plain DROP waits on.
      await runSql(root, `drop database if exists ${id(name)} with (force)`);
    },
  };
}

/** For tests that create schemas besides `public`: lets the application and bypass roles use one. */
export async function grantSchemaUsage(db: TestDatabase, schema: string): Promise<void> {
  await db.query(`grant usage on schema ${id(schema)} to ${id(db.roles.app)}, ${id(db.roles.bypass)}`);
}

async function assertAppRoleIsUnprivileged(superUrl: string): Promise<void> {
  const { app } = TEST_ROLES;
  const roles = await runSql<{ rolsuper: boolean; rolbypassrls: boolean }>(
    superUrl,
    'select rolsuper, rolbypassrls from pg_roles where rolname = $1',
    [app],
  );
  // Owners skip their tables' policies unless FORCE is on, and a member that inherits the owner role's
  // privileges counts as the owner: "owns" therefore means "has the privileges of the owning role".
  const owned = await runSql<{ relation: string; owner: string }>(
    superUrl,
    `select c.oid::regclass::text as relation, pg_get_userbyid(c.relowner) as owner
       from pg_class c where pg_has_role($1, c.relowner, 'usage')`,
    [app],
  );
  if (roles.length !== 1 || roles[0].rolsuper !== false || roles[0].rolbypassrls !== false || owned.length > 0) {
    throw new Error(
      `${app} must be NOSUPERUSER and NOBYPASSRLS and own no relation, found ${JSON.stringify({ role: roles[0], owned })}: ` +
        'RLS would not apply to it and the tests would prove nothing.',
    );
  }
}

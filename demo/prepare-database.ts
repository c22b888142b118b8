import { Client } from 'pg';
import { DEMO_ROLES } from './demo-config';

const DATABASE = 'rls_demo';

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function urlFor(superUrl: string, role?: string): string {
  const url = new URL(superUrl);
  url.pathname = `/${DATABASE}`;
  if (role) {
    url.username = role;
    url.password = role;
  }
  return url.toString();
}

/**
 * The roles the security model asks for, created as superuser (idempotently): an owner that owns the
 * tables and runs migrations, an application role that is NOSUPERUSER, NOBYPASSRLS and owns nothing,
 * and a NOLOGIN BYPASSRLS admin role granted to the application for `bypassRls()`.
 */
export async function prepareDatabase(superUrl: string): Promise<{ ownerUrl: string; appUrl: string; superUrl: string }> {
  const { owner, app, admin } = DEMO_ROLES;
  await withClient(superUrl, async (db) => {
    const roles: Record<string, string> = {
      [owner]: `LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '${owner}'`,
      [app]: `LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '${app}'`,
      [admin]: 'NOLOGIN NOSUPERUSER BYPASSRLS',
    };
    for (const [role, attributes] of Object.entries(roles)) {
      const { rowCount } = await db.query('select 1 from pg_roles where rolname = $1', [role]);
      await db.query(`${rowCount ? 'alter' : 'create'} role ${role} ${attributes}`);
    }
    await db.query(`grant ${admin} to ${app}`);
    const { rowCount } = await db.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (!rowCount) await db.query(`create database ${DATABASE} owner ${owner}`);
  });
  await withClient(urlFor(superUrl), (db) =>
    db.query(`
      grant usage on schema public to ${app}, ${admin};
      alter default privileges for role ${owner} grant select, insert, update, delete on tables to ${app}, ${admin};
      alter default privileges for role ${owner} grant usage, select on sequences to ${app}, ${admin};
    `),
  );
  return { ownerUrl: urlFor(superUrl, owner), appUrl: urlFor(superUrl, app), superUrl: urlFor(superUrl) };
}

/** Two tenants with a user and a few items each, written as superuser (which bypasses RLS), once. */
export async function seedDemo(superUrl: string): Promise<void> {
  await withClient(superUrl, async (db) => {
    const { rows } = await db.query('select count(*)::int as n from accounts');
    if (rows[0].n > 0) return;
    await db.query(`
      insert into accounts (id, name) values (1, 'Acme'), (2, 'Globex');
      insert into users (id, username, account_id) values (1, 'alice', 1), (2, 'bob', 2);
      insert into items (id, title, owner_id, account_id) values
        (1, 'Acme roadmap', 1, 1), (2, 'Acme payroll', 1, 1), (3, 'Globex secret plan', 2, 2);
      select setval(pg_get_serial_sequence('items', 'id'), 100);
    `);
  });
}

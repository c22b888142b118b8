import { Client } from 'pg';
import { startEmbeddedPostgres } from './embedded-server';
import { passwordOf, TEST_ROLES } from './test-roles';

declare global {
  // Kept for the teardown, which runs in the same process.
  var __RLS_TEST_STOP__: (() => Promise<void>) | undefined;
}

async function ensureRoles(superUrl: string): Promise<void> {
  const client = new Client({ connectionString: superUrl });
  await client.connect();
  try {
    const { owner, app, bypass } = TEST_ROLES;
    const attributes: Record<string, string> = {
      [owner]: `LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '${passwordOf(owner)}'`,
      [app]: `LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '${passwordOf(app)}'`,
      [bypass]: 'NOLOGIN NOSUPERUSER BYPASSRLS',
    };
    for (const [role, attrs] of Object.entries(attributes)) {
      // Roles are cluster-wide and survive earlier runs on the machine's server: create or reset them.
      const { rowCount } = await client.query('select 1 from pg_roles where rolname = $1', [role]);
      await client.query(`${rowCount ? 'ALTER' : 'CREATE'} ROLE "${role}" ${attrs}`);
    }
    await client.query(`GRANT "${bypass}" TO "${app}"`);
    const { rows } = await client.query('select rolsuper, rolbypassrls from pg_roles where rolname = $1', [app]);
    if (rows[0]?.rolsuper !== false || rows[0]?.rolbypassrls !== false) {
      throw new Error(`Role ${app} must be NOSUPERUSER and NOBYPASSRLS, found ${JSON.stringify(rows[0])}: tests would prove nothing.`);
    }
  } finally {
    await client.end();
  }
}

export default async function globalSetup(): Promise<void> {
  let superUrl = process.env.DATABASE_URL;
  if (superUrl) {
    console.log(`\n[mikro-orm-rls tests] using the PostgreSQL server in DATABASE_URL (${new URL(superUrl).host})`);
  } else {
    const embedded = await startEmbeddedPostgres();
    superUrl = embedded.url;
    globalThis.__RLS_TEST_STOP__ = embedded.stop;
    console.log(`\n[mikro-orm-rls tests] DATABASE_URL is not set: started an embedded PostgreSQL on ${new URL(superUrl).host}`);
  }
  // Workers are spawned after the global setup and inherit its environment.
  process.env.RLS_TEST_SUPERUSER_URL = superUrl;
  await ensureRoles(superUrl);
}

import { Client, escapeIdentifier as id, escapeLiteral as literal } from 'pg';
import { passwordOf, TEST_ROLES } from './test-roles';

const { owner, app, bypass } = TEST_ROLES;

// Every attribute is spelled out, because the machine's server keeps roles from earlier runs (or from
// someone's experiment) and ALTER ROLE must bring them back to exactly this.
const ATTRIBUTES: Record<string, string> = {
  [owner]: `LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD ${literal(passwordOf(owner))}`,
  [app]: `LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD ${literal(passwordOf(app))}`,
  [bypass]: 'NOLOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE',
};

/** Creates or resets the three test roles, then refuses to go on if the application role could skip RLS. */
export async function ensureTestRoles(superUrl: string): Promise<void> {
  const client = new Client({ connectionString: superUrl });
  await client.connect();
  try {
    for (const [role, attributes] of Object.entries(ATTRIBUTES)) {
      // CREATE ROLE has no IF NOT EXISTS; the exception block makes it idempotent and race-free.
      await client.query(`DO $$ BEGIN CREATE ROLE ${id(role)}; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
      await client.query(`ALTER ROLE ${id(role)} ${attributes}`);
    }
    await client.query(`GRANT ${id(bypass)} TO ${id(app)}`);
    await assertAppRoleAttributes(client);
  } finally {
    await client.end();
  }
}

async function assertAppRoleAttributes(client: Client): Promise<void> {
  const { rows } = await client.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
    'select rolsuper, rolbypassrls from pg_roles where rolname = $1',
    [app],
  );
  if (rows.length !== 1 || rows[0].rolsuper !== false || rows[0].rolbypassrls !== false) {
    throw new Error(
      `Role ${app} must exist with rolsuper = false and rolbypassrls = false, found ${JSON.stringify(rows)}. ` +
        'RLS never applies to such a role, so every isolation test would pass without proving anything.',
    );
  }
}

// Copied into the MikroORM 7 consumer project by scripts/consumer-test-v7.mjs: prints the policies on
// public.notes, and whether RLS is enabled and forced, as JSON (read by the migration ladder's checks).
//   node policies.cjs <superuser URL of the database>
'use strict';
const { Client } = require('pg');

async function main() {
  const client = new Client({ connectionString: process.argv[2] });
  await client.connect();
  try {
    const { rows: policies } = await client.query(
      `select policyname as name, cmd, qual, with_check from pg_policies where schemaname = 'public' and tablename = 'notes' order by policyname`,
    );
    const { rows: tables } = await client.query(`select relrowsecurity as enabled, relforcerowsecurity as forced from pg_class where oid = to_regclass('public.notes')`);
    console.log(JSON.stringify({ table: tables[0] ?? null, policies }));
  } finally {
    await client.end();
  }
}
main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});

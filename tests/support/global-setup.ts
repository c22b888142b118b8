import { startEmbeddedPostgres } from './embedded-postgres';
import { ensureTestRoles } from './ensure-test-roles';
import { PGBOUNCER_ADDR_ENV, pgbouncerRequested, startPgBouncer } from './pgbouncer';
import { describeServer, SUPERUSER_URL_ENV } from './superuser-url';

export default async function globalSetup(): Promise<void> {
  let superUrl = process.env.DATABASE_URL;
  let source = 'the server in DATABASE_URL';
  if (!superUrl) {
    const embedded = await startEmbeddedPostgres();
    globalThis.__RLS_TEST_EMBEDDED_PG__ = embedded.server;
    superUrl = embedded.url;
    source = 'an embedded PostgreSQL (DATABASE_URL is not set)';
  }
  try {
    await ensureTestRoles(superUrl);
    if (pgbouncerRequested()) globalThis.__RLS_TEST_PGBOUNCER__ = await startPgBouncer(superUrl);
  } catch (error) {
    // Jest skips the teardown when the setup throws (startPgBouncer cleans up after itself).
    await globalThis.__RLS_TEST_EMBEDDED_PG__?.stop();
    throw error;
  }
  // Workers are spawned after the global setup and inherit its environment.
  process.env[SUPERUSER_URL_ENV] = superUrl;
  console.log(`\n[mikro-orm-rls tests] using ${source} at ${describeServer(superUrl)}`);
  // Cleared when not requested, so an address left in the shell cannot reroute a direct run.
  delete process.env[PGBOUNCER_ADDR_ENV];
  const bouncer = globalThis.__RLS_TEST_PGBOUNCER__;
  if (bouncer) {
    process.env[PGBOUNCER_ADDR_ENV] = bouncer.address;
    console.log(`[mikro-orm-rls tests] the application role connects through PgBouncer (pool_mode = transaction) at ${bouncer.address}`);
  }
}

import { startEmbeddedPostgres } from './embedded-postgres';
import { ensureTestRoles } from './ensure-test-roles';
import { stopStartedServers } from './global-teardown';
import { PGBOUNCER_ADDR_ENV, PGBOUNCER_REPLICA_ADDR_ENV, pgbouncerRequested, startPgBouncer } from './pgbouncer';
import { REPLICA_URL_ENV, replicaRequested, startStreamingReplica } from './streaming-replica';
import { describeServer, SUPERUSER_URL_ENV } from './superuser-url';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { browserTestsLeftOut } = require('../../scripts/browser-tests.cjs') as { browserTestsLeftOut(): boolean };

const log = (line: string) => console.log(`[mikro-orm-rls tests] ${line}`);

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
    // After the roles: the standby gets them with its base backup (they would replicate anyway).
    if (replicaRequested()) globalThis.__RLS_TEST_REPLICA__ = await startStreamingReplica(superUrl);
    if (pgbouncerRequested()) {
      globalThis.__RLS_TEST_PGBOUNCER__ = await startPgBouncer(superUrl);
      const replica = globalThis.__RLS_TEST_REPLICA__;
      if (replica) globalThis.__RLS_TEST_REPLICA_PGBOUNCER__ = await startPgBouncer(replica.url);
    }
  } catch (error) {
    // Jest skips the teardown when the setup throws: stop what was started (each start cleans up after itself).
    await stopStartedServers();
    throw error;
  }
  // Workers are spawned after the global setup and inherit its environment.
  process.env[SUPERUSER_URL_ENV] = superUrl;
  console.log('');
  log(`using ${source} at ${describeServer(superUrl)}`);
  // Cleared when not started, so a value left in the shell cannot reroute a run.
  for (const name of [REPLICA_URL_ENV, PGBOUNCER_ADDR_ENV, PGBOUNCER_REPLICA_ADDR_ENV]) delete process.env[name];
  const replica = globalThis.__RLS_TEST_REPLICA__;
  if (replica) {
    process.env[REPLICA_URL_ENV] = replica.url;
    log(`a hot standby of it streams at ${describeServer(replica.url)} (Debian cluster ${replica.cluster}): tests/replica runs against it`);
  } else {
    log('tests/replica is left out: RLS_TEST_REPLICA is not set (RLS_TEST_REPLICA=1 starts a hot standby of the test server for them; .ci/run does)');
  }
  if (browserTestsLeftOut()) log('tests/browser is left out: RLS_TEST_BROWSER is not set (RLS_TEST_BROWSER=1 runs them in headless Chromium: apt-get install chromium; .ci/run does)');
  const bouncer = globalThis.__RLS_TEST_PGBOUNCER__;
  if (bouncer) {
    process.env[PGBOUNCER_ADDR_ENV] = bouncer.address;
    log(`the application role connects through PgBouncer (pool_mode = transaction) at ${bouncer.address}`);
  }
  const replicaBouncer = globalThis.__RLS_TEST_REPLICA_PGBOUNCER__;
  if (replicaBouncer) {
    process.env[PGBOUNCER_REPLICA_ADDR_ENV] = replicaBouncer.address;
    log(`and to the hot standby through another PgBouncer (pool_mode = transaction) at ${replicaBouncer.address}`);
  }
}

// For the declarations of the globals that hold the servers.
import type {} from './embedded-postgres';
import type {} from './pgbouncer';
import type {} from './streaming-replica';

/**
 * Stops what the global setup started, in reverse order: the PgBouncers, the hot standby, the embedded
 * server (the machine's server is left alone). Each is stopped once, even if another fails to stop.
 */
export async function stopStartedServers(): Promise<void> {
  const started = [globalThis.__RLS_TEST_REPLICA_PGBOUNCER__, globalThis.__RLS_TEST_PGBOUNCER__, globalThis.__RLS_TEST_REPLICA__, globalThis.__RLS_TEST_EMBEDDED_PG__];
  globalThis.__RLS_TEST_REPLICA_PGBOUNCER__ = undefined;
  globalThis.__RLS_TEST_PGBOUNCER__ = undefined;
  globalThis.__RLS_TEST_REPLICA__ = undefined;
  globalThis.__RLS_TEST_EMBEDDED_PG__ = undefined;
  const failures: unknown[] = [];
  for (const server of started) await server?.stop().catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw new AggregateError(failures, `Stopping the test servers failed: ${failures.map(String).join('; ')}`);
}

export default stopStartedServers;

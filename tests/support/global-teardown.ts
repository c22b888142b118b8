// For the declaration of the global that holds the server.
import type {} from './embedded-postgres';
import type {} from './pgbouncer';

/** Stops PgBouncer and the embedded server the global setup started, if any (the machine's server is left alone). */
export default async function globalTeardown(): Promise<void> {
  const bouncer = globalThis.__RLS_TEST_PGBOUNCER__;
  globalThis.__RLS_TEST_PGBOUNCER__ = undefined;
  await bouncer?.stop();
  const server = globalThis.__RLS_TEST_EMBEDDED_PG__;
  globalThis.__RLS_TEST_EMBEDDED_PG__ = undefined;
  await server?.stop();
}

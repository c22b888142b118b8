// For the declaration of the global that holds the server.
import type {} from './embedded-postgres';

/** Stops the embedded server the global setup started, if any (the machine's server is left alone). */
export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__RLS_TEST_EMBEDDED_PG__;
  globalThis.__RLS_TEST_EMBEDDED_PG__ = undefined;
  await server?.stop();
}

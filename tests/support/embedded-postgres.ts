import { startEmbeddedPostgres as startServer, type EmbeddedPostgres } from '../../demo/embedded-postgres';

export type EmbeddedPostgresServer = EmbeddedPostgres;

declare global {
  // Global setup and teardown run in the same (parent) process: this is how teardown finds the server.
  var __RLS_TEST_EMBEDDED_PG__: EmbeddedPostgresServer | undefined;
}

/**
 * A throw-away cluster on a free loopback port, its data in a temporary folder deleted on stop (the
 * demo's embedded server, shared so that both behave alike, as root too). Durability is pointless here.
 */
export async function startEmbeddedPostgres(): Promise<{ server: EmbeddedPostgresServer; url: string }> {
  const server = await startServer({ settings: { fsync: 'off', full_page_writes: 'off' } });
  return { server, url: server.url };
}

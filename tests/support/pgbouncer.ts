import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Client } from 'pg';
import { freeLoopbackPort } from './free-port';
import { passwordOf, TEST_ROLES } from './test-roles';

/**
 * RLS_TEST_PGBOUNCER=1 puts a PgBouncer in `pool_mode = transaction` between the application role and
 * the test server, to prove that isolation does not depend on one client connection = one backend.
 */
export const pgbouncerRequested = (): boolean => process.env.RLS_TEST_PGBOUNCER === '1';

/** host:port of the running PgBouncer; set by the global setup, inherited by every worker. */
export const PGBOUNCER_ADDR_ENV = 'RLS_TEST_PGBOUNCER_ADDR';

/** host:port of the PgBouncer in front of the hot standby, when the run has both (RLS_TEST_REPLICA=1 too). */
export const PGBOUNCER_REPLICA_ADDR_ENV = 'RLS_TEST_PGBOUNCER_REPLICA_ADDR';

/** Server connections per (database, user) pair: small, so that client connections must share backends. */
export const PGBOUNCER_POOL_SIZE = 4;

/**
 * A user that exists only in PgBouncer's auth_file (not in PostgreSQL): it may read the admin console
 * (`SHOW POOLS`), so a test can check which pool mode the application's connections really get.
 */
export const PGBOUNCER_STATS_USER = 'rls_test_pgbouncer_stats';

export interface PgBouncer {
  /** 127.0.0.1:<port> */
  address: string;
  stop(): Promise<void>;
}

declare global {
  // Global setup and teardown run in the same (parent) process: this is how teardown finds PgBouncer.
  var __RLS_TEST_PGBOUNCER__: PgBouncer | undefined;
  var __RLS_TEST_REPLICA_PGBOUNCER__: PgBouncer | undefined;
}

/**
 * `url` with its host and port replaced by PgBouncer's, when the global setup started one: the one in
 * front of the test server, or with {@link PGBOUNCER_REPLICA_ADDR_ENV} the one in front of its standby.
 */
export function throughPgBouncer(url: string, addressEnv = PGBOUNCER_ADDR_ENV): string {
  const address = process.env[addressEnv];
  if (!address) return url;
  const routed = new URL(url);
  routed.host = address;
  return routed.toString();
}

function findPgBouncer(): string {
  const candidates = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin'].map((dir) => join(dir, 'pgbouncer'));
  const found = candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found) {
    throw new Error('RLS_TEST_PGBOUNCER=1 but pgbouncer is not installed: apt-get install pgbouncer (or unset RLS_TEST_PGBOUNCER).');
  }
  return found;
}

/** PgBouncer refuses to run as root; as root (CI), run it as the `postgres` system user instead. */
function unprivilegedUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error('PgBouncer refuses to run as root and there is no `postgres` user to run it as.');
  }
}

const quote = (value: string) => `"${value.replace(/"/g, '""')}"`;

/**
 * Starts PgBouncer on a free loopback port in front of the server of `superUrl`, its ini, auth file,
 * pidfile and log in a temp directory of its own. Resolves once the application role can run a query
 * through it, so a broken configuration fails the setup instead of every test.
 */
export async function startPgBouncer(superUrl: string): Promise<PgBouncer> {
  const binary = findPgBouncer();
  const server = new URL(superUrl);
  const port = await freeLoopbackPort();
  const dir = mkdtempSync(join(tmpdir(), 'mikro-orm-rls-pgbouncer-'));
  const log = join(dir, 'pgbouncer.log');
  // Plain-text passwords: PgBouncer checks clients with SCRAM against them and can answer whatever the
  // server asks (nothing with the machine's trust auth, SCRAM with the embedded server).
  const users = [TEST_ROLES.owner, TEST_ROLES.app, TEST_ROLES.bypass, PGBOUNCER_STATS_USER].map((u) => [u, passwordOf(u)]);
  // Roles a test creates for itself are not listed: PgBouncer looks their SCRAM secret up in pg_shadow as
  // the superuser (auth_user), whose password it needs only when the server asks for one.
  const superuser = decodeURIComponent(server.username) || 'postgres';
  if (server.password) users.push([superuser, decodeURIComponent(server.password)]);
  writeFileSync(join(dir, 'userlist.txt'), users.map(([u, p]) => `${quote(u)} ${quote(p)}\n`).join(''), { mode: 0o600 });
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      // Any database name: each test file creates its own.
      `* = host=${server.hostname} port=${server.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      // No Unix socket that could collide with another PgBouncer (its default is /tmp/.s.PGSQL.<port>).
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      `auth_user = ${superuser}`,
      'pool_mode = transaction',
      // What the README asks of a transaction-mode PgBouncer: the server reset (DISCARD ALL by default)
      // after every transaction, so that session state raw SQL committed and then failed to reset (its
      // message failed after a COMMIT) cannot reach another client on the same backend.
      'server_reset_query_always = 1',
      `stats_users = ${PGBOUNCER_STATS_USER}`,
      'max_client_conn = 1000',
      `default_pool_size = ${PGBOUNCER_POOL_SIZE}`,
      // node-postgres sends only user and database at startup, so ignore_startup_parameters stays empty:
      // a test that passed `options` would then fail loudly instead of silently losing its settings.
      `logfile = ${log}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  const user = unprivilegedUser();
  if (user) for (const file of ['', ...readdirSync(dir)]) chownSync(join(dir, file), user.uid, user.gid);

  let output = '';
  const child = spawn(binary, [join(dir, 'pgbouncer.ini')], { ...user, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-4000)));
  // If Jest dies without running the teardown, do not leave PgBouncer behind.
  const killOnExit = () => void child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const bouncer: PgBouncer = {
    address: `127.0.0.1:${port}`,
    async stop() {
      process.removeListener('exit', killOnExit);
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitUntilReady(child, port);
  } catch (error) {
    const logText = existsSync(log) ? readFileSync(log, 'utf8').slice(-4000) : '';
    await bouncer.stop();
    throw new Error(`PgBouncer did not start (${String(error)}). Its output:\n${output}${logText}`);
  }
  return bouncer;
}

/** PgBouncer's own view of its pools, from its admin console (a stats user may run SHOW). */
export async function pgbouncerPools(address: string): Promise<{ database: string; user: string; pool_mode: string }[]> {
  const [host, port] = address.split(':');
  const admin = new Client({ host, port: Number(port), database: 'pgbouncer', user: PGBOUNCER_STATS_USER, password: passwordOf(PGBOUNCER_STATS_USER) });
  await admin.connect();
  try {
    return (await admin.query('show pools')).rows;
  } finally {
    await admin.end();
  }
}

/** Up to ~10 s of attempts to log in as the application role and run a query through PgBouncer. */
async function waitUntilReady(child: ChildProcess, port: number): Promise<void> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`pgbouncer exited (${child.exitCode ?? child.signalCode})`);
    const client = new Client({ host: '127.0.0.1', port, user: TEST_ROLES.app, password: passwordOf(TEST_ROLES.app), database: 'postgres' });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (error) {
      lastError = error;
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw lastError;
}

/** SIGTERM (immediate shutdown), then SIGKILL if it is still there after 5 s. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

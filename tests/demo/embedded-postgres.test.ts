import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { binariesUnder, postgresBinaries } from '../../demo/embedded-postgres/binaries';
import { canRun, postgresUserIfRoot } from '../../demo/embedded-postgres/postgres-user';
import { OutputTail, runToCompletion, startUntilReady } from '../../demo/embedded-postgres/processes';
import { reachableBinaries } from '../../demo/embedded-postgres/reachable-binaries';
import { EmbeddedPostgresError, startEmbeddedPostgres } from '../../demo/embedded-postgres';
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

afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

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
  const server = await startEmbeddedPostgres();
  expect(await runSql(server.url, 'select current_user as name')).toEqual([{ name: 'postgres' }]);
  await server.stop();
  expect(existsSync(dirname(server.dataDir))).toBe(false);
});

it('keeps a given data folder across a stop and a start', async () => {
  const dataDir = closedFolder();
  const first = await startEmbeddedPostgres({ dataDir });
  await runSql(first.url, 'create table kept (v int); insert into kept values (42)');
  await first.stop();

  const second = await startEmbeddedPostgres({ dataDir });
  try {
    expect(await runSql(second.url, 'select v from kept')).toEqual([{ v: 42 }]);
  } finally {
    await second.stop();
  }
  expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
});

it('as root, a data folder inside a folder the postgres user cannot enter is a one-line error saying what to do, and creates nothing', async () => {
  const closed = closedFolder();
  const dataDir = join(closed, 'data');
  const started = startEmbeddedPostgres({ dataDir });

  if (!user) {
    // Not root: the server runs as this user, who owns the folder, so it simply works.
    await (await started).stop();
    return;
  }
  const error = await started.then(
    (server) => server.stop().then(() => undefined),
    (thrown: Error) => thrown,
  );
  expect(error).toBeInstanceOf(EmbeddedPostgresError);
  expect(error!.message).not.toContain('\n');
  expect(error!.message).toMatch(/'postgres' user .* cannot enter the folder holding .*\/data: choose a data folder outside any mode 0700 folder .*, or run as a non-root user\.$/);
  expect(readdirSync(closed)).toEqual([]);
});

it('a program that cannot be spawned is a rejected promise naming it, not an unhandled error event', async () => {
  const notExecutable = join(closedFolder(), 'initdb');
  writeFileSync(notExecutable, '', { mode: 0o644 });
  const program = { cwd: tmpdir(), output: new OutputTail() };

  await expect(runToCompletion(notExecutable, [], program)).rejects.toThrow(`${notExecutable} could not start: spawn ${notExecutable} EACCES`);
  await expect(startUntilReady(notExecutable, [], program)).rejects.toThrow(`${notExecutable} could not start: spawn ${notExecutable} EACCES`);
});

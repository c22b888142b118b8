import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { EmbeddedPostgresError } from './error';

/**
 * PostgreSQL refuses to run as root, so when this process is root the server runs as the `postgres`
 * system user (Node's spawn switches uid and gid, and drops supplementary groups). That user must then
 * be able to enter every folder on the way to the binaries and to the data folder, which a clone in
 * /root or in a `mktemp -d` folder (both mode 0700) does not allow.
 */
export interface PostgresUser {
  uid: number;
  gid: number;
}

const NAME = 'postgres';

const idOf = (flag: '-u' | '-g'): number => Number(execFileSync('id', [flag, NAME], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());

function lookUp(): PostgresUser | undefined {
  try {
    return { uid: idOf('-u'), gid: idOf('-g') };
  } catch {
    // `id` exits non-zero when there is no such user: the caller creates it.
    return undefined;
  }
}

/** The user the server runs as: none (this process's own) unless root; the `postgres` user, created if missing, when root. */
export function postgresUserIfRoot(): PostgresUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const existing = lookUp();
  if (existing) return existing;
  try {
    execFileSync('useradd', ['--system', '--user-group', NAME], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const reason = String((error as { stderr?: Buffer }).stderr ?? error).trim();
    throw new EmbeddedPostgresError(
      `PostgreSQL will not run as root and there is no '${NAME}' user to run it as (useradd failed: ${reason}): create one (useradd --system --user-group ${NAME}) or run as a non-root user.`,
    );
  }
  return lookUp()!;
}

/** Runs a command as that user, exactly as the server will be spawned, and says whether it succeeded. */
function succeedsAs(user: PostgresUser, command: string, args: string[]): boolean {
  return spawnSync(command, args, { uid: user.uid, gid: user.gid, cwd: '/', stdio: 'ignore' }).status === 0;
}

/** Whether the user can execute `binary` (every folder on the way searchable, its libraries loadable). */
export const canRun = (user: PostgresUser, binary: string): boolean => succeedsAs(user, binary, ['--version']);

/** Whether the user can enter `folder`. */
export const canEnter = (user: PostgresUser, folder: string): boolean => succeedsAs(user, 'test', ['-x', folder]);

/**
 * Whether a data folder at `dir` would work: the folder itself is created if needed and handed to the
 * user, so what matters is that the user can enter the folder it sits in (the nearest one that exists).
 */
export function canReachDataDir(user: PostgresUser | undefined, dir: string): boolean {
  if (!user) return true;
  let parent = dirname(dir);
  while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
  return canEnter(user, parent);
}

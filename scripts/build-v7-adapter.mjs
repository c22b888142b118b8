// The second pass of `npm run build`: compiles src/adapters/mikro-orm-7 against the MikroORM 7 types of
// v7/ (tsconfig.v7.build.json, which extends tsconfig.v7.json) and copies only that adapter into dist/cjs.
// Its program also holds the src/core files the adapter imports; their output of the first pass
// (tsconfig.build.json, the whole of src against MikroORM 6) is the one shipped, so the two passes never
// write the same file.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const adapter = join('adapters', 'mikro-orm-7');
if (!existsSync(join(root, 'src', adapter, 'index.ts'))) {
  console.error(`src/${adapter}/index.ts is missing: the package would fail to load on MikroORM 7. Nothing to build the v7 pass from.`);
  process.exit(1);
}
if (!existsSync(join(root, 'v7', 'node_modules', '@mikro-orm', 'core'))) {
  console.error('v7/node_modules is missing: run npm ci --prefix v7 (npm install at the root does it), then build again.');
  process.exit(1);
}
const out = mkdtempSync(join(tmpdir(), 'mikro-orm-rls-v7-build-'));
try {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.v7.build.json'), '--outDir', out], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  cpSync(join(out, adapter), join(root, 'dist', 'cjs', adapter), { recursive: true });
  console.log(`dist/cjs/${adapter}: built against MikroORM 7 (v7/)`);
} finally {
  rmSync(out, { recursive: true, force: true });
}

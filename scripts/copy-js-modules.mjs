// Part of `npm run build`: copies the hand-written JavaScript modules of src/ and their declaration files
// into dist/cjs, which tsc does not (it compiles .ts only). Today one: src/adapters/installed-adapter-exports.
import { copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MODULES = ['adapters/installed-adapter-exports'];
for (const module of MODULES) {
  for (const extension of ['.js', '.d.ts']) copyFileSync(join(root, 'src', `${module}${extension}`), join(root, 'dist', 'cjs', `${module}${extension}`));
  console.log(`dist/cjs/${module}.js, .d.ts: copied`);
}

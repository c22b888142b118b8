// Checks, at the end of `npm run build`, that every file package.json points at was built: main, types,
// each `exports` target, each `typesVersions` target and each `bin`. A path that names a missing file
// only shows up for users, after publishing (a TS2307, or "Cannot find module" at require time).
//
//   node scripts/verify-package-paths.mjs          exits 1 naming each missing path
//   node scripts/verify-package-paths.mjs --list   prints the paths as JSON (used by tests)
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Every string leaf of an `exports` or `typesVersions` value (conditions and fallback arrays nest). */
function targets(value) {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(targets);
  if (value && typeof value === 'object') return Object.values(value).flatMap(targets);
  return [];
}

/** `[field, path]` for every path package.json names, relative to the package root. */
function namedPaths() {
  const named = [];
  const add = (field, paths) => paths.forEach((path) => named.push([field, path]));
  for (const field of ['main', 'types', 'typings', 'module']) if (pkg[field]) add(field, [pkg[field]]);
  add('exports', targets(pkg.exports));
  add('typesVersions', targets(pkg.typesVersions));
  add('bin', targets(pkg.bin));
  return named.map(([field, path]) => [field, normalize(path).split(sep).join('/')]);
}

const named = namedPaths();
if (process.argv.includes('--list')) {
  console.log(JSON.stringify([...new Set(named.map(([, path]) => path))]));
} else {
  // Wildcard targets (`./dist/*.js`) cannot be checked file by file; this package names every file.
  const problems = named.flatMap(([field, path]) => {
    if (path.includes('*')) return [`${field}: "${path}" is a pattern; name each file so the build can check it`];
    if (path !== 'package.json' && !path.startsWith('dist/')) return [`${field}: "${path}" is outside dist/`];
    if (!existsSync(join(root, path))) return [`${field}: "${path}" does not exist after the build`];
    return [];
  });
  if (problems.length > 0) {
    console.error(`package.json names files the build did not produce:\n  ${problems.join('\n  ')}`);
    console.error('Fix the path in package.json, or the build (tsconfig.build.json, scripts/build-esm-wrappers.mjs).');
    process.exit(1);
  }
  console.log(`package.json: all ${named.length} named paths exist`);
}

// Imported first by every ES module entry point of the package (dist/esm/*.mjs, made by
// scripts/build-esm-wrappers.mjs), before the CommonJS build they re-export is required.
//
// MikroORM 7 is ES modules only, and the CommonJS build reaches it with require(). Node 22 answers that
// require() with the very module instances the application imports, but a require() hook that compiles
// ES modules to CommonJS does not: tsx's full hook (`npx tsx app.ts`, `node --import tsx app.ts`)
// hands require() a compiled second copy of MikroORM, whose classes are not the application's, so
// nothing withRls wires would apply (withRls refuses that, see second-mikro-orm-copy.ts). So, for an
// application that imports this package as an ES module, the MikroORM 7 packages the CommonJS build
// requires are imported here, as the application imports them, and entered in require's cache under the
// file require() would load: the CommonJS build then gets the application's modules, whatever hook is
// installed. Where no hook is, this is what Node 22's require() returns anyway (the same namespace).
// Nothing is entered for MikroORM 6 (CommonJS), nor for a package whose require() and import resolve to
// different files (it has a CommonJS build of its own). A compiled copy that require() loaded already is
// replaced: CommonJS the application imports beside this package runs while the imports here are
// awaited (an ES module graph does not wait for an async sibling), and its require() of MikroORM would
// otherwise decide which copy this package gets; its own references stay what they were.
import { createRequire, Module } from 'node:module';
import { fileURLToPath } from 'node:url';

// Resolved as the CommonJS build resolves them.
const requireOfBuild = createRequire(new URL('../cjs/index.js', import.meta.url));

/** The ES module packages of MikroORM 7 that the CommonJS build requires; optional ones may be missing. */
const PEERS = [
  ['@mikro-orm/core', () => import('@mikro-orm/core')],
  ['@mikro-orm/sql', () => import('@mikro-orm/sql')],
  ['@mikro-orm/postgresql', () => import('@mikro-orm/postgresql')],
  ['@mikro-orm/migrations', () => import('@mikro-orm/migrations')],
];

function installedMikroOrmMajor() {
  try {
    return Number(requireOfBuild('@mikro-orm/core/package.json').version.split('.')[0]);
  } catch {
    // Safe to ignore: MikroORM is not installed, and the CommonJS build, loaded next, says so and what to do.
    return undefined;
  }
}

/** The file require() loads for `specifier`, when it is the file import loads too; otherwise undefined. */
function sharedFile(specifier) {
  try {
    const required = requireOfBuild.resolve(specifier);
    return required === fileURLToPath(import.meta.resolve(specifier)) ? required : undefined;
  } catch {
    // Safe to ignore: an optional peer that is not installed (the build requires it only when used).
    return undefined;
  }
}

if (installedMikroOrmMajor() >= 7) {
  for (const [specifier, load] of PEERS) {
    const file = sharedFile(specifier);
    if (file === undefined) continue;
    const namespace = await load();
    if (requireOfBuild.cache[file]?.exports === namespace) continue; // Node's own require(esm) entry
    const entry = new Module(file);
    entry.filename = file;
    entry.exports = namespace;
    entry.loaded = true;
    requireOfBuild.cache[file] = entry;
  }
}

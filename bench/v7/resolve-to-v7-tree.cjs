// Preloaded (`node -r`) into the Node 22 process of the benchmark's MikroORM 7 part (bench/v7/main.ts):
// MikroORM 7 and the packages that must be one copy with it (scripts/jest-v7/v7-tree.cjs names them)
// resolve from v7/node_modules, whoever asks (the bench, src, or a package of the root tree), as the
// v7 Jest run's resolver does. v6 and v7 cannot share one node_modules.
//
// Why Module._resolveFilename and not Node 22's module.registerHooks: the v7 adapter finds packages'
// sources with require.resolve(name, { paths }) (src/adapters/mikro-orm-7/internals.ts), which the
// registered hooks do not see on Node 22.23; _resolveFilename serves require and require.resolve alike.
// MikroORM 7's own ES modules import each other from inside v7/node_modules, which resolves there
// anyway; this process's code is CommonJS (ts-node) and loads them with require(esm), as the shipped
// CommonJS build of the package does in a Node 22 application.
const Module = require('node:module');
const { resolve, sep } = require('node:path');
const { assertV7TreeInstalled, comesFromV7Tree, packageNameOf, v7Dir, v7Modules } = require('../../scripts/jest-v7/v7-tree.cjs');

assertV7TreeInstalled();

const insideV7Tree = (path) => resolve(path).startsWith(v7Dir + sep);
const resolveFilename = Module._resolveFilename;

Module._resolveFilename = function resolveToV7Tree(request, parent, isMain, options) {
  const name = packageNameOf(request);
  if (!name || !comesFromV7Tree(name)) return resolveFilename.call(this, request, parent, isMain, options);
  const from = options?.paths ?? (parent?.filename ? [parent.filename] : []);
  if (from.length > 0 && from.every(insideV7Tree)) return resolveFilename.call(this, request, parent, isMain, options);
  const resolved = resolveFilename.call(this, request, parent, isMain, { ...options, paths: [v7Dir] });
  // Resolving from v7/ walks up to the root's node_modules too: a package missing from v7/ would
  // silently be the MikroORM 6 tree's.
  if (!resolved.startsWith(v7Modules + sep)) {
    throw new Error(`${request} is not in the MikroORM 7 tree but resolved to ${resolved}: add it to v7/package.json and run npm ci --prefix v7.`);
  }
  return resolved;
};

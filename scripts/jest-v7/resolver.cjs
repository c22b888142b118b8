// Jest resolver of the v7 run: MikroORM 7 and the packages that must be one copy with it resolve from
// v7/node_modules, whoever asks (a test, src, or a package of the root tree); everything else as usual.
const { sep } = require('node:path');
const { v7Dir, v7Modules, comesFromV7Tree, packageNameOf } = require('./v7-tree.cjs');

module.exports = function resolveForV7(request, options) {
  const name = packageNameOf(request);
  if (name && comesFromV7Tree(name)) {
    // Resolving from v7/ walks v7/node_modules first. Jest's CommonJS conditions (`require`, `default`)
    // suit every v7 package: MikroORM's and Kysely's exports have no `import`-only entry, and pg's
    // `require` entry is the module its ESM wrapper re-exports.
    const resolved = options.defaultResolver(request, { ...options, basedir: v7Dir });
    // Resolving walks up to the root's node_modules too: a package missing from v7/ (e.g. the v6-only
    // @mikro-orm/knex) would silently be the MikroORM 6 one.
    if (!resolved.startsWith(v7Modules + sep)) {
      throw new Error(`${request} (asked for by ${options.basedir}) is not in the MikroORM 7 tree but resolved to ${resolved}: add it to v7/package.json, or list the test in tests/v6-only.txt if it is MikroORM 6 only.`);
    }
    return resolved;
  }
  return options.defaultResolver(request, options);
};

'use strict';
// The exports of the adapter of the installed MikroORM major, for the package's entry points: the module
// loadInstalledAdapter() returns (src/adapters/mikro-orm-6 or -7). Plain JavaScript with a hand-written
// declaration file (installed-adapter-exports.d.ts) because TypeScript cannot re-export a module chosen
// at run time with its names, types and docs intact; `npm run build` copies both into dist/cjs.
module.exports = require('./installed-adapter').loadInstalledAdapter();

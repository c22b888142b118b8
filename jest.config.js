// Which install tree this run takes MikroORM from (jest.v7.config.js says v7): workers inherit it, and
// tests/db/mikro-orm-in-use.test.ts checks that the run got the MikroORM and Node it expects.
process.env.RLS_TEST_MIKRO_ORM_TREE = 'root';

const { ignorePatternsOf, v7OnlyTests } = require('./scripts/jest-v7/v7-tree.cjs');
const { replicaIgnorePatterns } = require('./scripts/replica-tests.cjs');
const { browserIgnorePatterns } = require('./scripts/browser-tests.cjs');

/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  transform: {
    // Each file compiled on its own (tsconfig.jest.json: isolatedModules), which is several times faster
    // than a whole TypeScript program per worker; `npm test` runs tsc over src and tests first, so a type
    // error still fails the tests.
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  // The MikroORM 7 only files of tests/v7-only.txt run in the v7 run alone (jest.v7.config.js);
  // tests/replica only with RLS_TEST_REPLICA=1 (scripts/replica-tests.cjs), tests/browser only with
  // RLS_TEST_BROWSER=1 (scripts/browser-tests.cjs).
  testPathIgnorePatterns: [...ignorePatternsOf(v7OnlyTests()), ...replicaIgnorePatterns(), ...browserIgnorePatterns()],
  globalSetup: '<rootDir>/tests/support/global-setup.ts',
  globalTeardown: '<rootDir>/tests/support/global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};

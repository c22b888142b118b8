/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  transform: {
    // Full type information (not isolatedModules): decorator metadata needs it. Type errors fail tests.
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/tests/support/global-setup.ts',
  globalTeardown: '<rootDir>/tests/support/global-teardown.ts',
  testTimeout: 30000,
  // Each worker builds its own TypeScript program; more workers mostly means more compiling.
  maxWorkers: 2,
};

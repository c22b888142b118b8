import { existsSync } from 'node:fs';
import { join } from 'node:path';

// tests/v6-only.txt lists the test files the v7 run (jest.v7.config.js) leaves out: each must exist,
// say why, and be left out by the v7 config (and only there), so that a renamed file cannot drop out of
// the v7 run unnoticed nor a stale line hide one.
const repo = join(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { v6OnlyTests } = require('../../scripts/jest-v7/v7-tree.cjs') as { v6OnlyTests(): { file: string; reason: string }[] };

const listed = v6OnlyTests();

it('every file tests/v6-only.txt lists exists, is a test file, is listed once and says why', () => {
  expect(listed.length).toBeGreaterThan(0);
  for (const { file, reason } of listed) {
    expect({ file, exists: existsSync(join(repo, file)), isTest: file.startsWith('tests/') && file.endsWith('.test.ts') }).toEqual({ file, exists: true, isTest: true });
    expect(reason.length).toBeGreaterThan(10);
  }
  expect(new Set(listed.map(({ file }) => file)).size).toBe(listed.length);
});

it('the v7 config leaves out exactly the listed files, and the v6 config none of them', () => {
  const ignoredBy = (patterns: string[]) => (file: string) => patterns.some((p) => new RegExp(p.replace('<rootDir>', repo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).test(join(repo, file)));
  // Loading a config sets RLS_TEST_MIKRO_ORM_TREE (the run's tree): put this run's value back.
  const tree = process.env.RLS_TEST_MIKRO_ORM_TREE;
  const v6 = ignoredBy(require('../../jest.config.js').testPathIgnorePatterns ?? []);
  const v7 = ignoredBy(require('../../jest.v7.config.js').testPathIgnorePatterns);
  process.env.RLS_TEST_MIKRO_ORM_TREE = tree;
  for (const { file } of listed) expect({ file, v6: v6(file), v7: v7(file) }).toEqual({ file, v6: false, v7: true });
  expect(v7('tests/db/query-paths.test.ts')).toBe(false);
});

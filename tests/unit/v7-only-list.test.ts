import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

// tests/v7-only.txt lists the test files the v6 run (jest.config.js) leaves out, because they test
// MikroORM 7 only: each must exist, say why, and be left out by the v6 config (and only there), so that a
// renamed file cannot drop out of the v7 run unnoticed nor a stale line hide one. Files that load the v7
// adapter or spawn the v7 CLI tests must be listed (they cannot run, or only repeat the v7 run, on v6).
const repo = join(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { v6OnlyTests, v7OnlyTests } = require('../../scripts/jest-v7/v7-tree.cjs') as Record<'v6OnlyTests' | 'v7OnlyTests', () => { file: string; reason: string }[]>;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { REPLICA_TESTS, replicaTestsLeftOut } = require('../../scripts/replica-tests.cjs') as { REPLICA_TESTS: string; replicaTestsLeftOut(): boolean };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { BROWSER_TESTS, browserTestsLeftOut } = require('../../scripts/browser-tests.cjs') as { BROWSER_TESTS: string; browserTestsLeftOut(): boolean };

/** Whether a run without this one's opt-in variables would leave `file` out anyway (tests/replica, tests/browser). */
const optedOut = (file: string) => (replicaTestsLeftOut() && file.startsWith(REPLICA_TESTS)) || (browserTestsLeftOut() && file.startsWith(BROWSER_TESTS));

const listed = v7OnlyTests();

const testFilesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : testFilesUnder(path);
    return entry.name.endsWith('.test.ts') ? [relative(repo, path)] : [];
  });

it('every file tests/v7-only.txt lists exists, is a test file, is listed once, says why, and is not in tests/v6-only.txt', () => {
  expect(listed.length).toBeGreaterThan(0);
  for (const { file, reason } of listed) {
    expect({ file, exists: existsSync(join(repo, file)), isTest: file.startsWith('tests/') && file.endsWith('.test.ts') }).toEqual({ file, exists: true, isTest: true });
    expect(reason.length).toBeGreaterThan(10);
  }
  expect(new Set(listed.map(({ file }) => file)).size).toBe(listed.length);
  const v6Only = new Set(v6OnlyTests().map(({ file }) => file));
  expect(listed.filter(({ file }) => v6Only.has(file))).toEqual([]);
});

it('the v6 config leaves out exactly the listed files, and the v7 config none of them', () => {
  const ignoredBy = (patterns: string[]) => (file: string) => patterns.some((p) => new RegExp(p.replace('<rootDir>', repo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).test(join(repo, file)));
  // Loading a config sets RLS_TEST_MIKRO_ORM_TREE (the run's tree): put this run's value back.
  const tree = process.env.RLS_TEST_MIKRO_ORM_TREE;
  const v6 = ignoredBy(require('../../jest.config.js').testPathIgnorePatterns);
  const v7 = ignoredBy(require('../../jest.v7.config.js').testPathIgnorePatterns);
  process.env.RLS_TEST_MIKRO_ORM_TREE = tree;
  for (const { file } of listed) expect({ file, v6: v6(file), v7: v7(file) }).toEqual({ file, v6: true, v7: false });
  // tests/replica and tests/browser are left out by both configs without their variables (tests/unit/opt-in-test-folders.test.ts).
  const others = testFilesUnder(join(repo, 'tests')).filter((file) => !listed.some((l) => l.file === file) && !optedOut(file));
  expect(others.filter(v6)).toEqual([]);
  expect(v6('tests/db/query-paths.test.ts')).toBe(false);
});

it('lists every test file that imports the v7 adapter or is a tests/cli/v7-* file', () => {
  const v7Only = testFilesUnder(join(repo, 'tests')).filter(
    (file) => /^tests\/cli\/v7-/.test(file) || /from '(\.\.\/)+src\/adapters\/mikro-orm-7[/']/.test(readFileSync(join(repo, file), 'utf8')),
  );
  expect(v7Only.filter((file) => !listed.some((l) => l.file === file))).toEqual([]);
});

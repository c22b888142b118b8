import { readdirSync } from 'node:fs';
import { join } from 'node:path';

// Two folders need something a plain machine lacks, so each runs only when its variable is 1:
// tests/replica the hot standby the global setup starts (RLS_TEST_REPLICA), tests/browser Debian's
// Chromium (RLS_TEST_BROWSER). Both Jest configs (v6 and v7 runs) leave exactly that folder out without
// the variable, and nothing for it with it, so the folder runs in full or not at all (.ci/run sets both,
// so CI runs them).
const repo = join(__dirname, '..', '..');

const testsIn = (folder: string) =>
  readdirSync(join(repo, folder))
    .filter((name) => name.endsWith('.test.ts'))
    .map((name) => `${folder}/${name}`);

const FOLDERS = [
  { variable: 'RLS_TEST_REPLICA', folder: 'tests/replica', expected: ['tests/replica/standby-reads.test.ts', 'tests/replica/standby-writes.test.ts', 'tests/replica/standby-pool-hygiene.test.ts'] },
  { variable: 'RLS_TEST_BROWSER', folder: 'tests/browser', expected: ['tests/browser/headless-chromium.test.ts'] },
] as const;

/** The test files each config leaves out of `files`, the configs loaded with `variable` as given. */
function leftOutWith(variable: string, value: string | undefined, files: readonly string[]): { v6: string[]; v7: string[] } {
  const saved = { value: process.env[variable], tree: process.env.RLS_TEST_MIKRO_ORM_TREE };
  if (value === undefined) delete process.env[variable];
  else process.env[variable] = value;
  try {
    let patterns!: { v6: string[]; v7: string[] };
    jest.isolateModules(() => {
      patterns = { v6: require('../../jest.config.js').testPathIgnorePatterns, v7: require('../../jest.v7.config.js').testPathIgnorePatterns };
    });
    const root = repo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const ignoredBy = (list: string[]) => files.filter((file) => list.some((p) => new RegExp(p.replace('<rootDir>', root)).test(join(repo, file))));
    return { v6: ignoredBy(patterns.v6), v7: ignoredBy(patterns.v7) };
  } finally {
    // Loading a config sets the run's tree: put this run's values back.
    for (const [name, old] of [[variable, saved.value], ['RLS_TEST_MIKRO_ORM_TREE', saved.tree]] as const) {
      if (old === undefined) delete process.env[name];
      else process.env[name] = old;
    }
  }
}

describe.each(FOLDERS)('$folder ($variable)', ({ variable, folder, expected }) => {
  const files = testsIn(folder);

  it(`${folder} holds its tests`, () => {
    expect(files).toEqual(expect.arrayContaining([...expected]));
  });

  it.each([undefined, '0', ''])(`with ${variable}=%p both configs leave out every one of them`, (value) => {
    expect(leftOutWith(variable, value, files)).toEqual({ v6: files, v7: files });
  });

  it(`with ${variable}=1 both configs run every one of them`, () => {
    expect(leftOutWith(variable, '1', files)).toEqual({ v6: [], v7: [] });
  });

  it(`${variable} changes nothing else: a test outside ${folder} runs either way`, () => {
    const other = ['tests/db/query-paths.test.ts', 'tests/pgbouncer/transaction-pooling.test.ts'];
    expect([leftOutWith(variable, undefined, other), leftOutWith(variable, '1', other)]).toEqual([
      { v6: [], v7: [] },
      { v6: [], v7: [] },
    ]);
  });
});

import { readdirSync } from 'node:fs';
import { join } from 'node:path';

// tests/replica needs the hot standby the global setup starts with RLS_TEST_REPLICA=1: both Jest
// configs (v6 and v7 runs) leave exactly that folder out without it, and leave nothing out for it with
// it, so the replica tests run in full or not at all (and .ci/run sets it, so CI runs them).
const repo = join(__dirname, '..', '..');
const replicaTests = readdirSync(join(repo, 'tests', 'replica'))
  .filter((name) => name.endsWith('.test.ts'))
  .map((name) => `tests/replica/${name}`);

/** The test files each config leaves out of `files`, the configs loaded with RLS_TEST_REPLICA as given. */
function leftOutWith(replica: string | undefined, files: string[]): { v6: string[]; v7: string[] } {
  const saved = { replica: process.env.RLS_TEST_REPLICA, tree: process.env.RLS_TEST_MIKRO_ORM_TREE };
  if (replica === undefined) delete process.env.RLS_TEST_REPLICA;
  else process.env.RLS_TEST_REPLICA = replica;
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
    for (const [name, value] of [['RLS_TEST_REPLICA', saved.replica], ['RLS_TEST_MIKRO_ORM_TREE', saved.tree]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

it('tests/replica holds the replica tests', () => {
  expect(replicaTests).toEqual(expect.arrayContaining(['tests/replica/standby-reads.test.ts', 'tests/replica/standby-writes.test.ts', 'tests/replica/standby-pool-hygiene.test.ts']));
});

it.each([undefined, '0', ''])('with RLS_TEST_REPLICA=%p both configs leave out every replica test', (value) => {
  expect(leftOutWith(value, replicaTests)).toEqual({ v6: replicaTests, v7: replicaTests });
});

it('with RLS_TEST_REPLICA=1 both configs run every replica test', () => {
  expect(leftOutWith('1', replicaTests)).toEqual({ v6: [], v7: [] });
});

it('RLS_TEST_REPLICA changes nothing else: a test outside tests/replica runs either way', () => {
  const other = ['tests/db/query-paths.test.ts', 'tests/pgbouncer/transaction-pooling.test.ts'];
  expect([leftOutWith(undefined, other), leftOutWith('1', other)]).toEqual([
    { v6: [], v7: [] },
    { v6: [], v7: [] },
  ]);
});

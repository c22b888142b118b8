import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_MAJOR, type AnyCliProject } from '../fixtures/cli-project-of-this-run';
import { cliProjectPerTest } from '../fixtures/cli-project-per-test';
import { notesAndOrdersEntitiesJs } from '../fixtures/v7-cli-project';
import { notesAndOrdersEntitiesTs } from '../fixtures/notes-and-orders-model';
import { rlsState } from '../support/rls-state';
import { grantSchemaUsage } from '../support/test-database';

// A project whose RLS snapshot was written by version 0.1 (format version 1: PostgreSQL's canonical text
// beside the rendered one, 5.7 MB at 1,000 tables) keeps working after the upgrade, through the real CLI
// of the run's major: nothing to migrate right after it, and the next change is exactly that change, the
// snapshot then written in the current format. tests/fixtures/snapshots/v1-notes-and-orders.rls.json is
// the file `migration:create --initial` of version 0.1 (commit cf940b5) wrote for this model.

jest.setTimeout(240_000);

const TABLES = ['note', 'order'];
const body = (d: { cast?: 'integer' | 'bigint' } = {}) => (CLI_MAJOR === 7 ? notesAndOrdersEntitiesJs(d) : notesAndOrdersEntitiesTs(d));
const version1 = readFileSync(join(__dirname, '..', 'fixtures', 'snapshots', 'v1-notes-and-orders.rls.json'), 'utf8');

const freshProject = cliProjectPerTest();

const rlsSnapshotOf = (p: AnyCliProject) => {
  const dir = join(p.dir, 'migrations');
  return join(dir, readdirSync(dir).find((f) => f.endsWith('.rls.json'))!);
};

it('a version 1 snapshot: check is clean, create writes nothing, the next change is exactly its ALTER POLICY statements, and the snapshot is then version 2', async () => {
  const { db, project: p } = await freshProject();
  p.entities(body());
  p.ok('migration:create', '--initial');
  p.ok('migration:up');
  await grantSchemaUsage(db, 'tenant data');
  // The project as version 0.1 left it.
  const snapshot = rlsSnapshotOf(p);
  writeFileSync(snapshot, version1);
  expect(p.run('migration:check').status).toBe(0);
  expect(p.ok('migration:create')).toMatch(/No changes required/);
  expect(readFileSync(snapshot, 'utf8')).toBe(version1);
  const before = await rlsState(db, TABLES);
  await new Promise((resolve) => setTimeout(resolve, 1050 - (Date.now() % 1000)));
  p.entities(body({ cast: 'bigint' }));
  expect(p.run('migration:check').status).toBe(1);
  p.ok('migration:create');
  const statements = [...p.latestMigration().matchAll(/this\.addSql\(`([^`]*)`\)/g)].map((m) => m[1]);
  // own_select, own_update and the order's policy read the cast: three ALTER POLICY up, three down.
  expect(statements).toHaveLength(6);
  expect(statements.every((s) => s.startsWith('alter policy '))).toBe(true);
  expect(statements.slice(0, 3).every((s) => s.includes('::bigint') && !s.includes('::integer'))).toBe(true);
  expect(statements.slice(3).every((s) => s.includes('::integer') && !s.includes('::bigint'))).toBe(true);
  expect(JSON.parse(readFileSync(snapshot, 'utf8')).version).toBe(2);
  p.ok('migration:up');
  expect(p.run('migration:check').status).toBe(0);
  p.ok('migration:down');
  expect(await rlsState(db, TABLES)).toEqual(before);
});

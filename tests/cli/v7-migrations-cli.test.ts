import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CliProject } from '../fixtures/cli-project';
import { notesAndOrdersEntitiesTs } from '../fixtures/notes-and-orders-model';
import { buildPackageUnderV7, notesAndOrdersEntitiesJs, V7CliProject } from '../fixtures/v7-cli-project';
import { policyRows, rlsFlags, rlsState } from '../support/rls-state';
import { createTestDatabase, grantSchemaUsage, type TestDatabase } from '../support/test-database';

// The migration commands of the real MikroORM 7 CLI (7.2.1, on Node 22) in a temporary project, against a
// real database, with the v7 adapter's schema generator and Migrator (compiled once for this file). The
// CLI runs as the owner, as migrations should.

jest.setTimeout(300_000);

const TABLES = ['note', 'order'];
const BY_HAND = `create policy by_hand on public.note as permissive for delete using (pinned)`;
const repo = join(__dirname, '..', '..');
let build: string;
let db: TestDatabase | undefined;
const projects: { remove(): void }[] = [];

beforeAll(() => {
  build = buildPackageUnderV7(mkdtempSync(join(repo, 'v7', '.rls-build-')));
});

afterAll(() => rmSync(build, { recursive: true, force: true }));

afterEach(async () => {
  for (const p of projects.splice(0)) p.remove();
  await db?.drop();
  db = undefined;
});

function v7Project(url: string): V7CliProject {
  const project = new V7CliProject(url, build);
  projects.push(project);
  return project;
}

it('runs the six-step ladder with exact downs and leaves a hand-written policy on an RLS table alone', async () => {
  db = await createTestDatabase();
  const project = v7Project(db.ownerUrl);
  project.entities(notesAndOrdersEntitiesJs());
  // 1. initial
  project.ok('migration:create', '--initial');
  const initial = project.latestMigration();
  expect(initial).toMatch(/create table "note"/);
  expect(initial).toMatch(/create policy "own_select" on "public"."note" as permissive for select to public using/);
  expect(initial.match(/create policy/g)).toHaveLength(3);
  expect(initial.indexOf('create table "tenant data"."order"')).toBeLessThan(initial.indexOf('create policy "tenant_isolation_for_orders'));
  expect(readdirSync(project.migrationsDir())).toEqual(expect.arrayContaining([expect.stringMatching(/^\.snapshot-.*\.rls\.json$/)]));
  // 2. up
  project.ok('migration:up');
  await grantSchemaUsage(db, 'tenant data');
  await db.query(BY_HAND);
  expect(await rlsFlags(db, TABLES)).toEqual([
    { relname: 'note', enabled: true, forced: true },
    { relname: 'order', enabled: true, forced: true },
  ]);
  expect(project.run('migration:check').status).toBe(0);
  expect(project.ok('migration:create')).toMatch(/No changes required/);
  // Native would propose to drop the hand-written policy and disable RLS: ours proposes nothing.
  expect(project.ok('schema:update', '--dump')).not.toMatch(/drop policy|disable row level security|by_hand/);
  const before = await rlsState(db, TABLES);
  // 3. a policy changes: the migration holds exactly that change
  project.entities(notesAndOrdersEntitiesJs({ cast: 'bigint' }));
  expect(project.run('migration:check').status).not.toBe(0);
  project.ok('migration:create');
  const change = project.latestMigration();
  // own_select, own_update and the order's policy read the cast: three ALTER POLICY up, three down.
  expect(change.match(/this\.addSql\(`alter policy/g)).toHaveLength(6);
  expect(change.match(/this\.addSql/g)).toHaveLength(6);
  expect(change).toMatch(/this\.addSql\(`alter policy "own_select" on "public"."note" to public using \("account_id" = \(select nullif\(current_setting\('rls.account_id', true\), ''\)::bigint\)\)`\);/);
  expect(change).not.toMatch(/create table|drop policy|create policy|by_hand/);
  // 4. up
  project.ok('migration:up');
  expect((await policyRows(db, TABLES)).find((p) => p.policyname === 'own_select')!.qual).toContain('::bigint');
  // 5. down, exactly
  project.ok('migration:down');
  expect(await rlsState(db, TABLES)).toEqual(before);
  // 6. up again: check is clean
  project.ok('migration:up');
  expect(project.run('migration:check').status).toBe(0);
  expect((await policyRows(db, TABLES)).map((p) => p.policyname)).toContain('by_hand');
});

it('native policy diffing writes nothing: native declarations become exact ones, where ignorePolicies alone would duplicate them', async () => {
  db = await createTestDatabase();
  const project = v7Project(db.ownerUrl);
  const body = [
      `const note = new EntitySchema({ name: 'Note', tableName: 'note', properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' } },`,
      `  rowLevelSecurity: 'force', policies: [{ name: 'tenant', using: "account_id = (select nullif(current_setting('rls.account_id', true), '')::int)" }, { command: 'select', using: 'account_id > 0' }] });`,
      `exports.entities = [note];`,
      '',
    ].join('\n');
  project.entities(body);
  // MikroORM on its own, even with ignorePolicies, creates the declared policies itself.
  const native = project.runWith({ RLS_TEST_NATIVE_ONLY: '1', RLS_TEST_IGNORE_POLICIES: '1' }, 'schema:create', '--dump');
  expect(native.output).toMatch(/create policy "tenant"/);
  const ours = project.ok('schema:create', '--dump');
  expect(ours.match(/create policy/g)).toHaveLength(2);
  expect(ours).toMatch(/create policy "tenant" on "public"."note" as permissive for all to public using \(account_id = /);
  expect(ours).toMatch(/create policy "note_select_policy" on "public"."note" as permissive for select to public using \(account_id > 0\)/);
  expect(ours).toMatch(/comment on policy "tenant" on "public"."note" is 'managed by mikro-orm-rls'/);
  project.ok('migration:create', '--initial');
  project.ok('migration:up');
  expect(await rlsFlags(db, ['note'])).toEqual([{ relname: 'note', enabled: true, forced: true }]);
  expect(project.run('migration:check').status).toBe(0);
  // PostgreSQL's canonical text: a change native's regexes cannot see (::int to ::bigint) is a migration.
  project.entities(body.replace('::int)', '::bigint)'));
  expect(project.run('migration:check').status).not.toBe(0);
  project.ok('migration:create');
  expect(project.latestMigration()).toMatch(/alter policy "tenant" on "public"."note" to public using \(account_id = .*::bigint/);
});

it('a project migrated on MikroORM 6 has a clean migration:check on MikroORM 7 right after the upgrade', async () => {
  db = await createTestDatabase();
  const v6 = new CliProject(db.ownerUrl);
  projects.push(v6);
  v6.entities(notesAndOrdersEntitiesTs());
  v6.ok('migration:create', '--initial');
  v6.ok('migration:up');
  v6.entities(notesAndOrdersEntitiesTs({ cast: 'bigint' }));
  v6.ok('migration:create');
  v6.ok('migration:up');
  expect(v6.run('migration:check').status).toBe(0);
  const v7 = v7Project(db.ownerUrl);
  v7.entities(notesAndOrdersEntitiesJs({ cast: 'bigint' }));
  v7.adoptMigrations(join(v6.dir, 'migrations'));
  const check = v7.run('migration:check');
  expect(check.output).toMatch(/No changes required/);
  expect(check.status).toBe(0);
  // And the next change is a migration again, from the v6 snapshot.
  v7.entities(notesAndOrdersEntitiesJs());
  expect(v7.run('migration:check').status).not.toBe(0);
});

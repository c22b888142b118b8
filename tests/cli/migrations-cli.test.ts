import { MikroORM } from '@mikro-orm/postgresql';
import { withRls } from '../../src';
import { fitIdentifier } from '../../src/core/ddl';
import { CLI_MAJOR, cliProjectOfThisRun, removeCliBuild, type AnyCliProject } from '../fixtures/cli-project-of-this-run';
import { notesAndOrdersEntitiesJs } from '../fixtures/v7-cli-project';
import { LONG_ORDER_POLICY, notesAndOrders, notesAndOrdersEntitiesTs } from '../fixtures/notes-and-orders-model';
import { policyRows, rlsFlags, rlsState } from '../support/rls-state';
import { createTestDatabase, grantSchemaUsage, type TestDatabase } from '../support/test-database';
import { createSchema } from '../support/schema-generator';

// Smoke tests of the real `mikro-orm` CLI in a temporary project, against a real database: the commands
// reach this package's Migrator and the files they write and run carry the policy DDL. The change matrix
// (cast, precedence, roles, restrictive, WITH CHECK, command, FORCE, dropped policies, altered columns,
// each with its exact way down) runs in process in tests/db/policy-migrations.test.ts. Each test has its
// own database and project; the CLI runs as the owner, as migrations should. Through the CLI of the run's
// major (MikroORM 6 with a TypeScript project, MikroORM 7 with a CommonJS one on Node 22).

jest.setTimeout(180_000);

const TABLES = ['note', 'order'];
const BY_HAND = `create policy by_hand on public.note as permissive for delete using (pinned)`;

let db: TestDatabase | undefined;
let project: AnyCliProject | undefined;
/** The notes-and-orders model in the language of the run's CLI project. */
const notesAndOrdersBody = (d: { cast?: 'integer' | 'bigint' } = {}) => (CLI_MAJOR === 7 ? notesAndOrdersEntitiesJs(d) : notesAndOrdersEntitiesTs(d));

afterAll(removeCliBuild);

afterEach(async () => {
  project?.remove();
  await db?.drop();
  project = undefined;
  db = undefined;
});

it('migration:create --initial writes tables and policies; migration:up applies them; then nothing is left to migrate', async () => {
  db = await createTestDatabase();
  project = cliProjectOfThisRun(db.ownerUrl);
  project.entities(notesAndOrdersBody());
  project.ok('migration:create', '--initial');
  const file = project.latestMigration();
  expect(file).toMatch(/create table "note"/);
  expect(file).toMatch(/create policy "own_select" on "public"."note" as permissive for select to public using/);
  expect(file.indexOf('create table "tenant data"."order"')).toBeLessThan(file.indexOf('create policy "tenant_isolation_for_orders'));
  project.ok('migration:up');
  await grantSchemaUsage(db, 'tenant data');
  // A hand-written policy is neither drift nor touched.
  await db.query(BY_HAND);
  expect(await policyRows(db, TABLES)).toEqual([
    expect.objectContaining({ tablename: 'note', policyname: 'by_hand', cmd: 'DELETE', qual: 'pinned' }),
    {
      schemaname: 'public', tablename: 'note', policyname: 'own_select', permissive: 'PERMISSIVE', roles: ['public'], cmd: 'SELECT',
      qual: `(account_id = ( SELECT (NULLIF(current_setting('rls.account_id'::text, true), ''::text))::integer AS "nullif"))`,
      with_check: null,
    },
    expect.objectContaining({ policyname: 'own_update', cmd: 'UPDATE', with_check: expect.stringContaining('::integer') }),
    expect.objectContaining({ schemaname: 'tenant data', tablename: 'order', policyname: fitIdentifier(`${LONG_ORDER_POLICY}_all`), cmd: 'ALL' }),
  ]);
  expect(await rlsFlags(db, TABLES)).toEqual([
    { relname: 'note', enabled: true, forced: true },
    { relname: 'order', enabled: true, forced: true },
  ]);
  expect(project.run('migration:check').status).toBe(0);
  const files = project.migrations();
  expect(project.ok('migration:create')).toMatch(/No changes required/);
  expect(project.migrations()).toEqual(files);
});

it('migration:check fails on a policy-only drift; migration:create writes the ALTER POLICY, migration:up applies it, migration:down restores exactly', async () => {
  db = await createTestDatabase();
  // The tables and policies exist already (schema:create, in process), with no migration yet: the CLI
  // compares with the live catalog.
  const orm = await MikroORM.init(withRls({ clientUrl: db.ownerUrl, entities: notesAndOrders() }));
  try {
    await createSchema(orm);
  } finally {
    await orm.close(true);
  }
  await db.query(BY_HAND);
  const before = await rlsState(db, TABLES);
  expect(before.policies.map((p) => p.policyname)).toEqual(['by_hand', 'own_select', 'own_update', fitIdentifier(`${LONG_ORDER_POLICY}_all`)]);
  project = cliProjectOfThisRun(db.ownerUrl);
  project.entities(notesAndOrdersBody({ cast: 'bigint' }));
  expect(project.run('migration:check').status).not.toBe(0);
  project.ok('migration:create');
  const file = project.latestMigration();
  expect(file).toMatch(/alter policy "own_select" on "public"."note" to public using/);
  expect(file).not.toMatch(/create table|drop policy|by_hand/);
  project.ok('migration:up');
  expect(project.run('migration:check').status).toBe(0);
  const after = await rlsState(db, TABLES);
  expect(after.policies.find((p) => p.policyname === 'own_select')!.qual).toContain('::bigint');
  project.ok('migration:down');
  expect(await rlsState(db, TABLES)).toEqual(before);
});

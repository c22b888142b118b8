import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/postgresql';
import { withRls } from '../../src';
import { fitIdentifier } from '../../src/core/ddl';
import { LONG_ORDER_POLICY, notesAndOrders, READER_ROLE, type NotesAndOrders } from '../fixtures/notes-and-orders-model';
import { policyRows, rlsFlags, rlsState, type RlsState } from '../support/rls-state';
import { runSql } from '../support/sql-client';
import { superuserUrl } from '../support/superuser-url';
import { migratorOf, type MigratorOfEitherMajor } from '../support/migrator';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { createSchema } from '../support/schema-generator';

// The policy change matrix of `migration:create`, driven in process through the Migrator the CLI uses
// (`orm.getMigrator()` on MikroORM 6, `orm.migrator` on 7: createMigration / create, checkMigrationNeeded /
// checkSchema, up, down, as migration:create, :check, :up and :down call them), against a real database, as the owner role. Each test starts from a fresh
// database migrated to its own starting declaration, with a hand-written policy that must survive
// everything; it changes one aspect, checks the migration file, the catalog, and that the way down
// restores the catalog exactly. tests/cli/migrations-cli.test.ts runs the same through the real CLI.

jest.setTimeout(60_000);

const TABLES = ['note', 'order'];
const repo = join(__dirname, '..', '..');

interface Project {
  db: TestDatabase;
  /** Migrations folder, inside the repository's node_modules so the files' `require`s resolve. */
  dir: string;
  orms: MikroORM[];
  migrations: number;
}

let project: Project | undefined;

afterEach(async () => {
  const p = project;
  project = undefined;
  if (!p) return;
  for (const orm of p.orms) await orm.close(true);
  await p.db.drop();
  rmSync(p.dir, { recursive: true, force: true });
});

const state = (): Promise<RlsState> => rlsState(project!.db, TABLES);
const policies = () => policyRows(project!.db, TABLES);
const accountIdType = async () =>
  (await project!.db.query(`select data_type from information_schema.columns where table_name = 'note' and column_name = 'account_id'`))[0].data_type;
const migrationFiles = () => readdirSync(project!.dir).filter((f) => f.endsWith('.js')).sort();

/** The Migrator of a new ORM declaring `d`, as the CLI gets it for one command. */
async function migratorFor(d: NotesAndOrders): Promise<MigratorOfEitherMajor> {
  const p = project!;
  const options = withRls({ clientUrl: p.db.ownerUrl, entities: notesAndOrders(d), migrations: { path: p.dir, emit: 'js', silent: true } });
  const orm = await MikroORM.init(options);
  p.orms.push(orm);
  const migrator = migratorOf(orm);
  // The CLI's migration commands go through the Migrator withRls registers (a subclass of MikroORM's):
  // the tests must too.
  expect(migrator.instance).toBeInstanceOf(Migrator);
  expect(migrator.instance.constructor).not.toBe(Migrator);
  expect(options.extensions).toContain(migrator.instance.constructor);
  return migrator;
}

/** Creates a migration. Names keep the files in order when two are created within the same second. */
const create = (migrator: MigratorOfEitherMajor, options: { blank?: boolean; initial?: boolean } = {}) =>
  migrator.createMigration(undefined, options.blank ?? false, options.initial ?? false, `step${String(++project!.migrations).padStart(2, '0')}`);

/** A fresh database and an empty migrations folder. */
async function newProject(): Promise<void> {
  const db = await createTestDatabase();
  project = { db, dir: mkdtempSync(join(repo, 'node_modules', '.policy-migrations-')), orms: [], migrations: 0 };
}

/**
 * A fresh database migrated (initial migration, applied) to `d`, plus a hand-written policy on `note`
 * that no migration may touch.
 */
async function startFrom(d: NotesAndOrders): Promise<void> {
  await newProject();
  const migrator = await migratorFor(d);
  await create(migrator, { initial: true });
  await migrator.up();
  await project!.db.query(`create policy by_hand on public.note as permissive for delete using (pinned)`);
}

/** Declares `d`: a migration is needed, is created, is applied, and then none is needed. Returns the file. */
async function migrate(d: NotesAndOrders): Promise<{ code: string; migrator: MigratorOfEitherMajor }> {
  const migrator = await migratorFor(d);
  expect(await migrator.checkMigrationNeeded()).toBe(true);
  const { code } = await create(migrator);
  expect(code).not.toBe('');
  await migrator.up();
  expect(await migrator.checkMigrationNeeded()).toBe(false);
  return { code, migrator };
}

/** Reverts the last migration, checks the state is exactly `before`, and applies it again. */
async function expectDownRestores(migrator: MigratorOfEitherMajor, before: RlsState): Promise<void> {
  const after = await state();
  await migrator.down();
  expect(await state()).toEqual(before);
  await migrator.up();
  expect(await state()).toEqual(after);
}

beforeAll(async () => {
  try {
    // Roles belong to the server, not to a test database: another file or run may have created it already.
    await runSql(superuserUrl(), `do $$ begin if not exists (select from pg_roles where rolname = '${READER_ROLE}') then create role ${READER_ROLE}; end if; end $$`);
  } catch (e) {
    // Two creations at once: the other one won.
    if (!/already exists|pg_authid_rolname_index/.test(String(e))) throw e;
  }
});

it('the initial migration creates the policies after the tables, and applying it leaves nothing to migrate', async () => {
  await newProject();
  const migrator = await migratorFor({});
  const { code } = await create(migrator, { initial: true });
  expect(code).toMatch(/create table "note"/);
  expect(code).toMatch(/create policy "own_select" on "public"."note" as permissive for select to public using/);
  expect(code.indexOf('create table "tenant data"."order"')).toBeLessThan(code.indexOf('create policy "tenant_isolation_for_orders'));
  await migrator.up();
  expect(await migrator.checkMigrationNeeded()).toBe(false);
  expect((await policies()).map((p) => [p.tablename, p.policyname])).toEqual([
    ['note', 'own_select'],
    ['note', 'own_update'],
    ['order', fitIdentifier(`${LONG_ORDER_POLICY}_all`)],
  ]);
});

it('the way down of the initial migration, which leaves MikroORM\'s tables in place, drops the policies but keeps RLS on: the application role sees no row, not every row', async () => {
  // MikroORM writes no way down for --initial: after migration:down the tables are still there, with their
  // rows. Turning RLS off there (the plain inverse of ENABLE / FORCE) showed every tenant's rows to the
  // application role with nothing refusing it (found by a consumer trial, helper-62).
  await newProject();
  const migrator = await migratorFor({});
  const { code } = await create(migrator, { initial: true });
  expect(code).not.toMatch(/drop table/);
  expect(code).not.toMatch(/disable row level security|no force row level security/);
  await migrator.up();
  await project!.db.query(`insert into public.note (id, account_id) values (1, 1), (2, 2)`);
  await migrator.down();
  expect(await policies()).toEqual([]);
  expect(await rlsFlags(project!.db, TABLES)).toEqual([
    { relname: 'note', enabled: true, forced: true },
    { relname: 'order', enabled: true, forced: true },
  ]);
  await project!.db.assertAppRoleIsUnprivileged();
  expect(await runSql(project!.db.appUrl, 'select id from public.note')).toEqual([]);
});

it('the initial migration of tables that exist already (created without migrations) probes them as they are and is recorded as applied', async () => {
  await newProject();
  const migrator = await migratorFor({});
  const orm = project!.orms[0];
  await createSchema(orm);
  const before = await state();
  const { code } = await create(migrator, { initial: true });
  expect(code).toMatch(/create policy "own_select" on "public"."note"/);
  expect(await state()).toEqual(before);
  expect(await migrator.checkMigrationNeeded()).toBe(false);
});

it('right after a migration is applied, nothing is left to migrate and createMigration writes no file', async () => {
  await startFrom({});
  const migrator = await migratorFor({});
  expect(await migrator.checkMigrationNeeded()).toBe(false);
  const files = migrationFiles();
  const created = await create(migrator);
  expect(created.fileName).toBe('');
  expect(created.diff.up).toEqual([]);
  expect(migrationFiles()).toEqual(files);
});

it('a blank migration stays blank: no policy statement in it', async () => {
  await startFrom({});
  const migrator = await migratorFor({ cast: 'bigint' });
  const before = await state();
  const { code, fileName } = await create(migrator, { blank: true });
  expect(fileName).not.toBe('');
  expect(code).not.toMatch(/polic/);
  await migrator.up();
  expect(await state()).toEqual(before);
});

it('a declaration written another way that PostgreSQL stores the same (spaces, parentheses) needs no migration', async () => {
  await startFrom({});
  const before = await state();
  const migrator = await migratorFor({ notePolicy: 'ownReformatted' });
  expect(await migrator.checkMigrationNeeded()).toBe(false);
  expect((await create(migrator)).code).toBe('');
  expect(await state()).toEqual(before);
});

it('a changed cast alone makes a policy-only migration with ALTER POLICY, and down restores it exactly', async () => {
  await startFrom({});
  const before = await state();
  const { code, migrator } = await migrate({ cast: 'bigint' });
  expect(code).toMatch(/alter policy "own_select" on "public"."note" to public using/);
  expect(code).not.toMatch(/create table|drop policy/);
  expect((await policies()).find((p) => p.policyname === 'own_select')!.qual).toContain('::bigint');
  await expectDownRestores(migrator, before);
});

it('a change of operator precedence is an ALTER POLICY, and down restores it exactly', async () => {
  await startFrom({ cast: 'bigint' });
  const before = await state();
  const { code, migrator } = await migrate({ cast: 'bigint', notePolicy: 'precedenceA' });
  expect(code).toMatch(/alter policy "own_select"/);
  await expectDownRestores(migrator, before);
});

it('the same terms grouped the other way are another change', async () => {
  await startFrom({ cast: 'bigint', notePolicy: 'precedenceA' });
  const before = (await policies()).find((p) => p.policyname === 'own_select')!.qual;
  const { code } = await migrate({ cast: 'bigint', notePolicy: 'precedenceB' });
  expect(code).toMatch(/alter policy "own_select"/);
  expect((await policies()).find((p) => p.policyname === 'own_select')!.qual).not.toEqual(before);
});

it('a change of roles alone is an ALTER POLICY ... TO, and down restores it exactly', async () => {
  await startFrom({ cast: 'bigint' });
  const before = await state();
  const { code, migrator } = await migrate({ cast: 'bigint', notePolicy: 'toReader' });
  expect(code).toMatch(new RegExp(`alter policy "own_select" on "public"."note" to "${READER_ROLE}"`));
  expect(code).not.toMatch(/drop policy|create policy/);
  expect((await policies()).find((p) => p.policyname === 'own_select')!.roles).toEqual([READER_ROLE]);
  await expectDownRestores(migrator, before);
});

it('permissive to restrictive is a drop and create, and down restores it exactly', async () => {
  await startFrom({ cast: 'bigint' });
  const before = await state();
  const { code, migrator } = await migrate({ cast: 'bigint', notePolicy: 'restrictive' });
  expect(code).toMatch(/drop policy "own_select" on "public"."note"/);
  expect(code).toMatch(/create policy "own_select" on "public"."note" as restrictive/);
  expect((await policies()).filter((p) => p.permissive === 'RESTRICTIVE').map((p) => p.policyname)).toEqual(['own_select', 'own_update']);
  await expectDownRestores(migrator, before);
});

it('a change of the WITH CHECK clause alone alters only the policy that has one, and down restores it exactly', async () => {
  await startFrom({ cast: 'bigint', notePolicy: 'restrictive' });
  const before = await state();
  const { code, migrator } = await migrate({ cast: 'bigint', notePolicy: 'restrictiveWithCheck' });
  expect(code).toMatch(/alter policy "own_update"/);
  expect(code).not.toMatch(/alter policy "own_select"/);
  expect((await policies()).find((p) => p.policyname === 'own_update')!.with_check).toMatch(/AND \(NOT pinned\)/);
  await expectDownRestores(migrator, before);
});

it('a change of command drops the old policy and creates the new one, and down restores it exactly', async () => {
  await startFrom({ cast: 'bigint' });
  const before = await state();
  const { code, migrator } = await migrate({ cast: 'bigint', notePolicy: 'selectDelete' });
  expect(code).toMatch(/drop policy "own_update"/);
  expect(code).toMatch(/create policy "own_delete"/);
  expect((await policies()).map((p) => p.policyname)).toEqual(['by_hand', 'own_delete', 'own_select', fitIdentifier(`${LONG_ORDER_POLICY}_all`)]);
  await expectDownRestores(migrator, before);
});

it('FORCE off and a policy no longer declared are migrated, the hand-written policy is left alone, and down restores it exactly', async () => {
  await startFrom({ cast: 'bigint' });
  const before = await state();
  const { code, migrator } = await migrate({ cast: 'bigint', force: false, withOrderPolicy: false });
  expect(code).toMatch(/alter table "public"."note" no force row level security/);
  expect(code).toMatch(/drop policy "tenant_isolation_for_orders/);
  expect(code).not.toMatch(/by_hand/);
  expect((await policies()).map((p) => p.policyname)).toEqual(['by_hand', 'own_select', 'own_update']);
  await expectDownRestores(migrator, before);
});

it('altering a column a policy depends on drops the policies first and recreates them after, and down restores them exactly', async () => {
  await startFrom({ cast: 'bigint' });
  const before = await state();
  const { code, migrator } = await migrate({ cast: 'bigint', columnType: 'bigint' });
  const dropAt = code.indexOf('drop policy "own_select"');
  const alterAt = code.indexOf('alter table "note" alter column "account_id"');
  const createAt = code.indexOf('create policy "own_select"');
  expect(dropAt).toBeGreaterThan(-1);
  expect(alterAt).toBeGreaterThan(dropAt);
  expect(createAt).toBeGreaterThan(alterAt);
  expect(code).not.toMatch(/by_hand/);
  expect(await accountIdType()).toBe('bigint');
  await expectDownRestores(migrator, before);
  await migrator.down();
  expect(await accountIdType()).toBe('integer');
});

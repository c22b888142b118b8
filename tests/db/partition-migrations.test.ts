import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { Command, Restrictive, column, sql, withRls, type Policy } from '../../src';
import { ITEM_PARTITIONS, itemEntity, PARTITIONED_ITEMS_SQL, tenantPolicy } from '../fixtures/partitioned-model';
import { runSql } from '../support/sql-client';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { migratorOf } from '../support/migrator';
import { updateSchema } from '../support/schema-generator';

// Partitions exist only in the database (created by hand-written SQL), so the migration diff reads them
// from the catalog: migration:create (MikroORM's Migrator, driven through its API) and schema:update put
// the parent's policies on every partition, report drift there, and write nothing when nothing changed.
// Each migration is applied by running its statements as the owner, as migration:up would.

jest.setTimeout(120_000);

let db: TestDatabase;
let dir: string;
const orms: MikroORM[] = [];

async function ownerOrm(options: { policies?: Policy[]; titleType?: string; snapshot?: boolean } = {}) {
  const orm = await MikroORM.init(
    withRls({
      clientUrl: db.ownerUrl,
      entities: [itemEntity(options.policies, options.titleType)],
      migrations: { path: dir, snapshot: options.snapshot ?? true },
    }),
  );
  orms.push(orm);
  return orm;
}

const migrator = migratorOf;
const asOwner = (statements: readonly string[]) => runSql(db.ownerUrl, statements.filter((s) => s.trim()).map((s) => `${s};`).join('\n'));

const partitionState = () =>
  db.query(
    `select c.relname as table, c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
            array(select polname || ': ' || coalesce(pg_get_expr(polqual, polrelid), '') from pg_policy where polrelid = c.oid order by 1) as policies
     from pg_class c where c.relname like 'items%' and c.relkind in ('r', 'p') order by 1`,
  );

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'rls-partition-migrations-'));
  await runSql(db.ownerUrl, PARTITIONED_ITEMS_SQL);
});
afterAll(async () => {
  for (const orm of orms) await orm.close(true);
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

it('migration:create puts the flags and policies on every partition, after the parent', async () => {
  const created = await migrator(await ownerOrm()).createMigration();
  const tables = created.diff.up.filter((s) => s.startsWith('create policy')).map((s) => /on "public"\."(\w+)"/.exec(s)![1]);
  expect(tables).toEqual(['items', ...ITEM_PARTITIONS]);
  for (const table of ITEM_PARTITIONS) {
    expect(created.diff.up).toContain(`alter table "public"."${table}" enable row level security`);
    expect(created.diff.up).toContain(`alter table "public"."${table}" force row level security`);
    expect(created.diff.down).toContain(`drop policy "tenant_all" on "public"."${table}"`);
  }
  await asOwner(created.diff.up);
  const state = await partitionState();
  expect(state.map((t: { table: string }) => t.table)).toEqual(['items', ...ITEM_PARTITIONS].sort());
  for (const table of state) expect(table).toEqual(expect.objectContaining({ enabled: true, forced: true, policies: [expect.stringMatching(/^tenant_all: \(tenant_id = /)] }));
});

it('right after, nothing is left to migrate, from the snapshot and from the live catalog alike', async () => {
  expect(await migrator(await ownerOrm()).checkMigrationNeeded()).toBe(false);
  expect((await migrator(await ownerOrm()).createMigration()).diff.up).toEqual([]);
  expect(await migrator(await ownerOrm({ snapshot: false })).checkMigrationNeeded()).toBe(false);
});

it('a partition created later is migrated on its own, once, and its down statements undo exactly that', async () => {
  const before = await partitionState();
  await runSql(db.ownerUrl, `create table items_t4 partition of items for values in (4)`);
  const orm = await ownerOrm();
  expect(await migrator(orm).checkMigrationNeeded()).toBe(true);
  const { diff } = await migrator(orm).createMigration();
  expect(diff.up).toEqual([
    'alter table "public"."items_t4" enable row level security',
    'alter table "public"."items_t4" force row level security',
    expect.stringMatching(/^create policy "tenant_all" on "public"."items_t4" as permissive for all/),
    `comment on policy "tenant_all" on "public"."items_t4" is 'managed by mikro-orm-rls'`,
  ]);
  // Before migration:up, the snapshot already has it: a second migration:create writes nothing.
  expect((await migrator(await ownerOrm()).createMigration()).diff.up).toEqual([]);
  await asOwner(diff.up);
  expect(await migrator(await ownerOrm({ snapshot: false })).checkMigrationNeeded()).toBe(false);
  await asOwner(diff.down);
  expect(await partitionState()).toEqual([...before, { table: 'items_t4', enabled: false, forced: false, policies: [] }]);
  await asOwner(diff.up);
});

it('a partition that is gone is no longer migrated, though the snapshot recorded it', async () => {
  await runSql(db.ownerUrl, `drop table items_t4`);
  expect(await migrator(await ownerOrm()).checkMigrationNeeded()).toBe(false);
});

it('drift of a partition policy is a diff against the live catalog', async () => {
  await runSql(db.ownerUrl, `alter policy tenant_all on items_other_low using (true)`);
  const { diff } = await migrator(await ownerOrm({ snapshot: false })).createMigration();
  expect(diff.up).toEqual([expect.stringMatching(/^alter policy "tenant_all" on "public"."items_other_low" to public using \("tenant_id" = /)]);
  expect(diff.down).toEqual([expect.stringMatching(/^alter policy "tenant_all" on "public"."items_other_low" to public using \(true\) with check /)]);
  await asOwner(diff.up);
  expect(await migrator(await ownerOrm({ snapshot: false })).checkMigrationNeeded()).toBe(false);
});

it('altering a column that partition policies read drops them before the schema statement and recreates them after', async () => {
  const titled = Restrictive({ cmd: Command.select, customExpr: () => sql`${column('title')} <> ''`, customPolicyName: 'titled' });
  const first = await migrator(await ownerOrm({ policies: [tenantPolicy, titled] })).createMigration();
  await asOwner(first.diff.up);
  const { diff } = await migrator(await ownerOrm({ policies: [tenantPolicy, titled], titleType: 'text' })).createMigration();
  const alterAt = diff.up.findIndex((s) => /^alter table "items" alter column "title" type text/.test(s));
  expect(alterAt).toBeGreaterThan(-1);
  for (const table of ['items', ...ITEM_PARTITIONS]) {
    expect(diff.up.indexOf(`drop policy "titled_select" on "public"."${table}"`)).toBeLessThan(alterAt);
    expect(diff.up.findIndex((s) => s.startsWith(`create policy "titled_select" on "public"."${table}"`))).toBeGreaterThan(alterAt);
  }
  await asOwner(diff.up);
  expect(await migrator(await ownerOrm({ policies: [tenantPolicy, titled], titleType: 'text', snapshot: false })).checkMigrationNeeded()).toBe(false);
});

it('schema:update brings the partitions to the declared state and then has nothing left to do', async () => {
  await runSql(db.ownerUrl, `alter table items_t2 no force row level security; drop policy tenant_all on items_t1`);
  const orm = await ownerOrm({ titleType: 'text' });
  const update = await orm.schema.getUpdateSchemaSQL({ wrap: false });
  expect(update).toMatch(/alter table "public"."items_t2" force row level security/);
  expect(update).toMatch(/create policy "tenant_all" on "public"."items_t1"/);
  expect(update).toMatch(/drop policy "titled_select" on "public"."items_other_high"/);
  await updateSchema(orm);
  expect(await orm.schema.getUpdateSchemaSQL({ wrap: false })).toBe('');
});

import { CLI_MAJOR, cliProjectOfThisRun, removeCliBuild, type AnyCliProject } from '../fixtures/cli-project-of-this-run';
import { runSql } from '../support/sql-client';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { ITEM_PARTITIONS, PARTITIONED_ITEMS_SQL } from '../fixtures/partitioned-model';

// The real `mikro-orm` CLI on a table partitioned by hand-written SQL: the migration it writes puts the
// policies on every partition, and migration:check notices a partition created afterwards. Through the
// CLI of the run's major (MikroORM 6 with a TypeScript project, MikroORM 7 with a CommonJS one on Node 22).

jest.setTimeout(180_000);

let db: TestDatabase;
let project: AnyCliProject;

const ENTITIES = `
const tenantId = ConditionArg({ comparatorName: 'tenant_id', type: 'integer' });
const Item = new EntitySchema${CLI_MAJOR === 6 ? '<any>' : ''}({
  name: 'Item',
  tableName: 'items',
  properties: { tenantId: { type: 'integer', primary: true }, id: { type: 'integer', primary: true }, title: { type: 'string' } },
  rls: { policies: [Permissive({ conditionArgs: [tenantId], cmd: Command.all, customPolicyName: 'tenant' })] },
});
${CLI_MAJOR === 6 ? 'export const entities = [Item];\nvoid Restrictive; void column; void sql;' : 'exports.entities = [Item];'}
`;

const covered = () =>
  db.query(
    `select c.relname as table from pg_class c
     where c.relname like 'items%' and c.relrowsecurity and c.relforcerowsecurity
       and exists (select from pg_policy p where p.polrelid = c.oid and p.polname = 'tenant_all')
     order by 1`,
  );

beforeAll(async () => {
  db = await createTestDatabase();
  await runSql(db.ownerUrl, PARTITIONED_ITEMS_SQL);
  project = cliProjectOfThisRun(db.ownerUrl);
  project.entities(ENTITIES);
});
afterAll(async () => {
  project?.remove();
  removeCliBuild();
  await db?.drop();
});

it('migration:create and migration:up put the policies on the table and every partition', async () => {
  project.ok('migration:create');
  expect(project.latestMigration()).toMatch(/create policy "tenant_all" on "public"."items_other_low"/);
  project.ok('migration:up');
  expect((await covered()).map((r: { table: string }) => r.table)).toEqual(['items', ...ITEM_PARTITIONS].sort());
  expect(project.run('migration:check').status).toBe(0);
});

it('migration:check fails once a partition is created by hand, and the next migration covers it', async () => {
  await runSql(db.ownerUrl, `create table items_t4 partition of items for values in (4)`);
  expect(project.run('migration:check').status).not.toBe(0);
  project.ok('migration:create');
  expect(project.latestMigration()).toMatch(/alter table "public"."items_t4" enable row level security/);
  project.ok('migration:up');
  expect((await covered()).map((r: { table: string }) => r.table)).toContain('items_t4');
  expect(project.run('migration:check').status).toBe(0);
});

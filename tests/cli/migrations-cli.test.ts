import { fitIdentifier } from '../../src/core/ddl';
import { CliProject } from '../fixtures/cli-project';
import { createTestDatabase, grantSchemaUsage, type TestDatabase } from '../support/test-database';

// The real `mikro-orm` CLI in a temporary project, against a real database: every step asserts the exact
// rows of pg_policies and the RLS flags. The steps build on each other, in order.

jest.setTimeout(180_000);

const LONG = 'tenant_isolation_for_orders_in_a_schema_whose_name_has_a_space_in_it';

interface Declaration {
  cast?: string;
  columnType?: string;
  notePolicy?: string;
  force?: boolean;
  withOrderPolicy?: boolean;
}

const OWN = "Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.update], customExpr: (x) => sql`${column('account_id')} = ${x}`, customPolicyName: 'own' })";

function entities(d: Declaration = {}): string {
  return `
const accountId = ConditionArg({ comparatorName: 'account_id', type: '${d.cast ?? 'integer'}' });
const Note = new EntitySchema<any>({
  name: 'Note',
  tableName: 'note',
  properties: {
    id: { type: 'integer', primary: true },
    accountId: { type: '${d.columnType ?? 'integer'}' },
    pinned: { type: 'boolean', default: false },
  },
  rls: { force: ${d.force ?? true}, policies: [${d.notePolicy ?? OWN}] },
});
const Order = new EntitySchema<any>({
  name: 'Order',
  schema: 'tenant data',
  tableName: 'order',
  properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' } },
  rls: { policies: [${d.withOrderPolicy === false ? '' : `Permissive({ conditionArgs: [accountId], cmd: Command.all, customPolicyName: '${LONG}' })`}] },
});
export const entities = [Note, Order];
void Restrictive;
`;
}

let db: TestDatabase;
let project: CliProject;

const policies = () =>
  db.query(
    `select schemaname, tablename, policyname, permissive, roles::text[] as roles, cmd, qual, with_check
     from pg_policies where tablename in ('note', 'order') order by 1, 2, 3`,
  );
const flags = () =>
  db.query(
    `select c.relname, c.relrowsecurity as enabled, c.relforcerowsecurity as forced
     from pg_class c where c.relname in ('note', 'order') and c.relkind = 'r' order by 1`,
  );
const state = async () => ({ policies: await policies(), flags: await flags() });

/** Applies the declaration, checks a migration is needed, creates it, applies it; returns the file. */
function migrate(d: Declaration): string {
  project.entities(entities(d));
  expect(project.run('migration:check').status).not.toBe(0);
  project.ok('migration:create');
  const file = project.latestMigration();
  project.ok('migration:up');
  expect(project.run('migration:check').status).toBe(0);
  return file;
}

/** Reverts the last migration, checks the state is exactly `before`, and applies it again. */
async function expectDownRestores(before: Awaited<ReturnType<typeof state>>) {
  const after = await state();
  project.ok('migration:down');
  expect(await state()).toEqual(before);
  project.ok('migration:up');
  expect(await state()).toEqual(after);
}

beforeAll(async () => {
  db = await createTestDatabase();
  // The CLI runs as the owner, as migrations should; a hand-written policy must survive everything.
  project = new CliProject(db.ownerUrl);
  project.entities(entities());
});
afterAll(async () => {
  project?.remove();
  await db?.drop();
});

it('migration:create --initial writes tables and policies; migration:up applies them', async () => {
  project.ok('migration:create', '--initial');
  const file = project.latestMigration();
  expect(file).toMatch(/create table "note"/);
  expect(file).toMatch(/create policy "own_select" on "public"."note" as permissive for select to public using/);
  expect(file.indexOf('create table "tenant data"."order"')).toBeLessThan(file.indexOf('create policy "tenant_isolation_for_orders'));
  project.ok('migration:up');
  await grantSchemaUsage(db, 'tenant data');
  await db.query(`create policy by_hand on public.note as permissive for delete using (pinned)`);
  expect(await policies()).toEqual([
    expect.objectContaining({ tablename: 'note', policyname: 'by_hand', cmd: 'DELETE', qual: 'pinned' }),
    {
      schemaname: 'public', tablename: 'note', policyname: 'own_select', permissive: 'PERMISSIVE', roles: ['public'], cmd: 'SELECT',
      qual: `(account_id = ( SELECT (NULLIF(current_setting('rls.account_id'::text, true), ''::text))::integer AS "nullif"))`,
      with_check: null,
    },
    expect.objectContaining({ policyname: 'own_update', cmd: 'UPDATE', with_check: expect.stringContaining('::integer') }),
    expect.objectContaining({ schemaname: 'tenant data', tablename: 'order', policyname: fitIdentifier(`${LONG}_all`), cmd: 'ALL' }),
  ]);
  expect(await flags()).toEqual([
    { relname: 'note', enabled: true, forced: true },
    { relname: 'order', enabled: true, forced: true },
  ]);
});

it('right after applying, there is nothing to migrate and migration:create writes nothing', () => {
  expect(project.run('migration:check').status).toBe(0);
  const before = project.migrations();
  const out = project.ok('migration:create');
  expect(out).toMatch(/No changes required/);
  expect(project.migrations()).toEqual(before);
});

it('--blank stays blank', () => {
  project.ok('migration:create', '--blank');
  const file = project.latestMigration();
  expect(file).not.toMatch(/polic/);
  project.ok('migration:up');
});

it('a changed cast alone makes a policy-only migration with ALTER POLICY, and down restores it exactly', async () => {
  const before = await state();
  const file = migrate({ cast: 'bigint' });
  expect(file).toMatch(/alter policy "own_select" on "public"."note" to public using/);
  expect(file).not.toMatch(/create table|drop policy/);
  expect((await policies()).find((p: { policyname: string }) => p.policyname === 'own_select').qual).toContain('::bigint');
  await expectDownRestores(before);
});

it('a change of operator precedence is detected', async () => {
  const before = await state();
  const file = migrate({
    cast: 'bigint',
    notePolicy: "Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.update], customExpr: (x) => sql`(${column('account_id')} = ${x} or ${column('pinned')}) and ${column('id')} > 0`, customPolicyName: 'own' })",
  });
  expect(file).toMatch(/alter policy "own_select"/);
  await expectDownRestores(before);
  // The same expression with the other grouping is another change.
  const again = migrate({
    cast: 'bigint',
    notePolicy: "Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.update], customExpr: (x) => sql`${column('account_id')} = ${x} or (${column('pinned')} and ${column('id')} > 0)`, customPolicyName: 'own' })",
  });
  expect(again).toMatch(/alter policy "own_select"/);
});

it('a change of roles alone is detected', async () => {
  await db.query(`do $$ begin if not exists (select from pg_roles where rolname = 'rls_cli_reader') then create role rls_cli_reader; end if; end $$`);
  const before = await state();
  const file = migrate({ cast: 'bigint', notePolicy: OWN.replace("customPolicyName: 'own'", "customPolicyName: 'own', to: ['rls_cli_reader']") });
  expect(file).toMatch(/alter policy "own_select" on "public"."note" to "rls_cli_reader"/);
  await expectDownRestores(before);
});

it('permissive to restrictive is a drop and create', async () => {
  const before = await state();
  const file = migrate({ cast: 'bigint', notePolicy: OWN.replace('Permissive(', 'Restrictive(') });
  expect(file).toMatch(/drop policy "own_select" on "public"."note"/);
  expect(file).toMatch(/create policy "own_select" on "public"."note" as restrictive/);
  expect((await policies()).filter((p: { permissive: string }) => p.permissive === 'RESTRICTIVE').length).toBe(2);
  await expectDownRestores(before);
});

it('a change of the WITH CHECK clause alone is detected', async () => {
  const before = await state();
  const file = migrate({
    cast: 'bigint',
    // Still restrictive, as the previous step left it: only the WITH CHECK clause differs.
    notePolicy: OWN.replace('Permissive(', 'Restrictive(').replace(
      "customPolicyName: 'own'",
      "customPolicyName: 'own', withCheck: (x) => sql`${column('account_id')} = ${x} and not ${column('pinned')}`",
    ),
  });
  expect(file).toMatch(/alter policy "own_update"/);
  expect(file).not.toMatch(/alter policy "own_select"/);
  await expectDownRestores(before);
});

it('a change of command drops the old policy and creates the new one', async () => {
  const before = await state();
  const file = migrate({ cast: 'bigint', notePolicy: OWN.replace('[Command.select, Command.update]', '[Command.select, Command.delete]') });
  expect(file).toMatch(/drop policy "own_update"/);
  expect(file).toMatch(/create policy "own_delete"/);
  await expectDownRestores(before);
});

it('FORCE off and a policy no longer declared are migrated, and the hand-written policy is left alone', async () => {
  const before = await state();
  const file = migrate({ cast: 'bigint', force: false, withOrderPolicy: false });
  expect(file).toMatch(/alter table "public"."note" no force row level security/);
  expect(file).toMatch(/drop policy "tenant_isolation_for_orders/);
  expect(file).not.toMatch(/by_hand/);
  expect((await policies()).map((p: { policyname: string }) => p.policyname)).toEqual(['by_hand', 'own_select', 'own_update']);
  await expectDownRestores(before);
});

it('altering a column a policy depends on drops the policies first and recreates them after', async () => {
  const before = await state();
  const file = migrate({ cast: 'bigint', columnType: 'bigint', force: false, withOrderPolicy: false });
  const dropAt = file.indexOf('drop policy "own_select"');
  const alterAt = file.indexOf('alter table "note" alter column "account_id"');
  const createAt = file.indexOf('create policy "own_select"');
  expect(dropAt).toBeGreaterThan(-1);
  expect(alterAt).toBeGreaterThan(dropAt);
  expect(createAt).toBeGreaterThan(alterAt);
  await expectDownRestores(before);
});

import { CLI_MAJOR, cliProjectOfThisRun, removeCliBuild, type AnyCliProject } from '../fixtures/cli-project-of-this-run';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// schema:create, schema:update, schema:fresh and migration:fresh leave every table with its declared
// policies; migration:create compares with MikroORM's snapshot when there is one. Through the CLI of the
// run's major (MikroORM 6 with a TypeScript project, MikroORM 7 with a CommonJS one on Node 22).

jest.setTimeout(180_000);

function entities(columnType: string, cmp = '='): string {
  const body = `
const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const Doc = new EntitySchema${CLI_MAJOR === 6 ? '<any>' : ''}({
  name: 'Doc',
  tableName: 'doc',
  properties: { id: { type: 'integer', primary: true }, accountId: { type: '${columnType}' } },
  rls: { policies: [Permissive({ conditionArgs: [accountId], cmd: Command.all, customExpr: (x) => sql\`\${column('account_id')} ${cmp} \${x}\`, customPolicyName: 'tenant' })] },
});
${CLI_MAJOR === 6 ? 'export const entities = [Doc];\nvoid Restrictive;' : 'exports.entities = [Doc];'}
`;
  return body;
}

let db: TestDatabase;
let project: AnyCliProject;

const state = async () => ({
  policies: await db.query(`select policyname, cmd, qual from pg_policies where tablename = 'doc'`),
  flags: await db.query(`select relrowsecurity as enabled, relforcerowsecurity as forced from pg_class where relname = 'doc' and relkind = 'r'`),
});
const declared = (qualOperator = '=') => ({
  policies: [
    {
      policyname: 'tenant_all',
      cmd: 'ALL',
      qual: `(account_id ${qualOperator} ( SELECT (NULLIF(current_setting('rls.account_id'::text, true), ''::text))::integer AS "nullif"))`,
    },
  ],
  flags: [{ enabled: true, forced: true }],
});

beforeAll(async () => {
  db = await createTestDatabase();
  project = cliProjectOfThisRun(db.ownerUrl);
  project.entities(entities('integer'));
});
afterAll(async () => {
  project?.remove();
  removeCliBuild();
  await db?.drop();
});

it('schema:create creates the policies with the tables', async () => {
  project.ok('schema:create', '--run');
  expect(await state()).toEqual(declared());
});

it('schema:update through a change of a column the policy depends on keeps the policy', async () => {
  project.entities(entities('bigint'));
  project.ok('schema:update', '--run');
  expect(await db.query(`select data_type from information_schema.columns where table_name = 'doc' and column_name = 'account_id'`)).toEqual([
    { data_type: 'bigint' },
  ]);
  expect(await state()).toEqual(declared());
});

it('schema:update applies a policy-only change', async () => {
  project.entities(entities('bigint', '>='));
  project.ok('schema:update', '--run');
  expect(await state()).toEqual(declared('>='));
  project.entities(entities('bigint'));
  project.ok('schema:update', '--run');
  expect(await state()).toEqual(declared());
});

it('schema:fresh drops and recreates the tables with their policies', async () => {
  project.ok('schema:fresh', '--run');
  expect(await state()).toEqual(declared());
});

it('migration:fresh recreates everything from the migrations, policies included', async () => {
  project.ok('migration:create', '--initial');
  project.ok('migration:fresh');
  expect(await state()).toEqual(declared());
});

it('migration:create compares with the snapshot: a second create before applying the first writes nothing', async () => {
  // Migration files are named by the second they were made in: one made in the same second as the
  // previous test's initial migration would share its name, and migration:up would take it as applied.
  await new Promise((resolve) => setTimeout(resolve, 1050 - (Date.now() % 1000)));
  project.entities(entities('bigint', '>='));
  project.ok('migration:create');
  const files = project.migrations();
  expect(project.latestMigration()).toMatch(/alter policy "tenant_all"/);
  expect(project.ok('migration:create')).toMatch(/No changes required/);
  expect(project.migrations()).toEqual(files);
  project.ok('migration:up');
  expect(await state()).toEqual(declared('>='));
});

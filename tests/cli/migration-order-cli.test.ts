import { CLI_MAJOR, type AnyCliProject } from '../fixtures/cli-project-of-this-run';
import { cliProjectPerTest } from '../fixtures/cli-project-per-test';
import { rlsState } from '../support/rls-state';
import type { TestDatabase } from '../support/test-database';

// Everyday orders of the migration commands in which the database is behind the last migration: a
// policy changed after `migration:create` but before `migration:up`, through the real CLI of the run's
// major. PostgreSQL checks a changed policy against the tables as the earlier migrations leave them,
// which are not in the database yet: planning catches the database up (inside a rolled-back
// transaction) instead of failing with `relation ... does not exist`.

jest.setTimeout(240_000);

interface Doc {
  /** The operator the policy compares `account_id` with. */
  operator?: '=' | '>=';
  /** Whether the table has an `owner_id` column, and the policy requires it to be set. */
  owner?: 'absent' | 'column' | 'used';
}

/** The body of the project's entities file for `d`, in the language of the run's CLI project. */
function entities(d: Doc = {}): string {
  const owner = d.owner ?? 'absent';
  const expr = owner === 'used' ? `sql\`\${column('account_id')} ${d.operator ?? '='} \${x} and \${column('owner_id')} is not null\`` : `sql\`\${column('account_id')} ${d.operator ?? '='} \${x}\``;
  return `
const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const Doc = new EntitySchema${CLI_MAJOR === 6 ? '<any>' : ''}({
  name: 'Doc',
  tableName: 'doc',
  properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' }${owner === 'absent' ? '' : ", ownerId: { type: 'integer', nullable: true }"} },
  rls: { policies: [Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.update], customExpr: (x) => ${expr}, customPolicyName: 'tenant' })] },
});
${CLI_MAJOR === 6 ? 'export const entities = [Doc];\nvoid Restrictive;' : 'exports.entities = [Doc];'}
`;
}

const freshProject = cliProjectPerTest();
let db: TestDatabase | undefined;

/** Migration files are named by the second they are made in: the next one waits for the next second. */
const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1050 - (Date.now() % 1000)));
const nameOf = (file: string) => file.replace(/\.(ts|js)$/, '');
const statementsOf = (file: string) => [...file.matchAll(/this\.addSql\(`([^`]*)`\)/g)].map((m) => m[1]);
const state = () => rlsState(db!, ['doc']);

async function newProject(d: Doc): Promise<AnyCliProject> {
  const fresh = await freshProject();
  db = fresh.db;
  fresh.project.entities(entities(d));
  return fresh.project;
}

it('a policy changed after migration:create and before migration:up: check reports it, the next migration holds exactly the change, both go up, and its down is exact', async () => {
  const p = await newProject({});
  p.ok('migration:create', '--initial');
  const [initial] = p.migrations();
  p.entities(entities({ operator: '>=' }));
  const check = p.run('migration:check');
  expect(check.output).not.toMatch(/does not exist|Error/);
  expect(check.output).toMatch(/Changes detected/);
  expect(check.status).toBe(1);
  await nextSecond();
  p.ok('migration:create');
  const change = statementsOf(p.latestMigration());
  expect(change).toEqual([
    `alter policy "tenant_select" on "public"."doc" to public using ("account_id" >= (select nullif(current_setting('rls.account_id', true), '')::integer))`,
    `alter policy "tenant_update" on "public"."doc" to public using ("account_id" >= (select nullif(current_setting('rls.account_id', true), '')::integer)) with check ("account_id" >= (select nullif(current_setting('rls.account_id', true), '')::integer))`,
    `alter policy "tenant_update" on "public"."doc" to public using ("account_id" = (select nullif(current_setting('rls.account_id', true), '')::integer)) with check ("account_id" = (select nullif(current_setting('rls.account_id', true), '')::integer))`,
    `alter policy "tenant_select" on "public"."doc" to public using ("account_id" = (select nullif(current_setting('rls.account_id', true), '')::integer))`,
  ]);
  // Only the first migration: the state the second one's down must restore.
  p.ok('migration:up', '--to', nameOf(initial));
  const afterFirst = await state();
  expect(afterFirst.policies.map((row) => row.qual)).toEqual([expect.stringContaining('account_id = ('), expect.stringContaining('account_id = (')]);
  p.ok('migration:up');
  expect((await state()).policies.map((row) => row.qual)).toEqual([expect.stringContaining('account_id >= ('), expect.stringContaining('account_id >= (')]);
  expect(p.run('migration:check').status).toBe(0);
  p.ok('migration:down');
  expect(await state()).toEqual(afterFirst);
});

it('a policy changed to use a column that a migration not yet applied adds: the next migration is only the ALTER POLICY, and all of them apply', async () => {
  const p = await newProject({});
  p.ok('migration:create', '--initial');
  p.ok('migration:up');
  // The column, in a migration that is not applied...
  p.entities(entities({ owner: 'column' }));
  await nextSecond();
  p.ok('migration:create');
  expect(p.latestMigration()).toMatch(/alter table "doc" add (column )?"owner_id" int null/);
  // ...and a policy that uses it: PostgreSQL can only check it once the column is there.
  p.entities(entities({ owner: 'used' }));
  expect(p.run('migration:check').status).toBe(1);
  await nextSecond();
  p.ok('migration:create');
  const change = statementsOf(p.latestMigration());
  expect(change).toHaveLength(4);
  expect(change.every((s) => s.startsWith('alter policy "tenant_'))).toBe(true);
  expect(change[0]).toMatch(/and "owner_id" is not null\)$/);
  p.ok('migration:up');
  expect((await state()).policies.map((row) => row.qual)).toEqual([expect.stringContaining('(owner_id IS NOT NULL)'), expect.stringContaining('(owner_id IS NOT NULL)')]);
  expect(p.run('migration:check').status).toBe(0);
});

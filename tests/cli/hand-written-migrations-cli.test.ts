import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_MAJOR, cliProjectOfThisRun, removeCliBuild, type AnyCliProject } from '../fixtures/cli-project-of-this-run';
import { rlsState } from '../support/rls-state';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// A hand-written migration made with `migration:create --blank` and the helpers of mikro-orm-rls/migrations,
// through the real `mikro-orm` CLI of the run's major (MikroORM 6: TypeScript project and migration,
// MikroORM 7: CommonJS ones on Node 22): migration:up creates what the entity declares, migration:check is
// then clean although the project has MikroORM's snapshots, migration:down restores the catalog exactly,
// and a mistake fails migration:up with the helper's message and changes nothing.

jest.setTimeout(240_000);

const repo = join(__dirname, '..', '..');
const TABLES = ['note'];
let db: TestDatabase | undefined;
let project: AnyCliProject | undefined;

afterAll(removeCliBuild);

afterEach(async () => {
  project?.remove();
  await db?.drop();
  project = undefined;
  db = undefined;
});

/** The `note` entity, with its two policies declared or none; the policies are exported for the migration. */
function noteEntities(declared: boolean): string {
  const policies = [
    `const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });`,
    `const ownNotes = Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.update] });`,
    'const unpinnedOnly = Restrictive({ conditionArgs: [accountId], cmd: Command.delete, customExpr: (id) => sql`${column(\'account_id\')} = ${id} and not ${column(\'pinned\')}`, customPolicyName: \'unpinned_only\' });',
  ];
  const rls = declared ? `, rls: { policies: [ownNotes, unpinnedOnly] }` : '';
  const properties = `{ id: { type: 'integer', primary: true }, accountId: { type: 'integer' }, pinned: { type: 'boolean', default: false } }`;
  if (CLI_MAJOR === 7) {
    return [...policies, `exports.entities = [new EntitySchema({ name: 'Note', tableName: 'note', properties: ${properties}${rls} })];`, 'exports.ownNotes = ownNotes;', 'exports.unpinnedOnly = unpinnedOnly;', ''].join('\n');
  }
  return [
    ...policies.map((line) => `export ${line}`),
    `export const entities = [new EntitySchema<any>({ name: 'Note', tableName: 'note', properties: ${properties}${rls} })];`,
    '',
  ].join('\n');
}

/** The body of the migration's `rls()` step list, in the language of the run's project. */
const CREATE_DECLARED = `rls.steps(rls.enableRls('note'), rls.createPolicy('note', ownNotes, { position: 1 }), rls.createPolicy('note', unpinnedOnly))`;

/** Replaces the blank migration `migration:create --blank` wrote with one built from the helpers. */
function writeHandWrittenMigration(p: AnyCliProject, steps: string): string {
  p.ok('migration:create', '--blank');
  const file = join(p.dir, 'migrations', p.migrations().at(-1)!);
  const className = /class (\w+)/.exec(readFileSync(file, 'utf8'))![1];
  const code =
    CLI_MAJOR === 7
      ? [
          `const { Migration } = require('@mikro-orm/migrations');`,
          `const { rlsMigration } = require(${JSON.stringify(join((p as unknown as { build: string }).build, 'migrations'))});`,
          `const { ownNotes, unpinnedOnly } = require('../entities');`,
          `class ${className} extends Migration {`,
          `  rlsSteps() { const rls = rlsMigration(this.config); return ${steps}; }`,
          `  async up() { for (const statement of this.rlsSteps().up) this.addSql(statement); }`,
          `  async down() { for (const statement of this.rlsSteps().down) this.addSql(statement); }`,
          `}`,
          `exports.${className} = ${className};`,
          '',
        ]
      : [
          `import { Migration } from '@mikro-orm/migrations';`,
          `import { rlsMigration, type RlsMigrationSql } from ${JSON.stringify(join(repo, 'src', 'migrations'))};`,
          `import { ownNotes, unpinnedOnly } from '../entities';`,
          `export class ${className} extends Migration {`,
          `  private rlsSteps(): RlsMigrationSql { const rls = rlsMigration(this.config); return ${steps}; }`,
          `  override async up(): Promise<void> { for (const statement of this.rlsSteps().up) this.addSql(statement); }`,
          `  override async down(): Promise<void> { for (const statement of this.rlsSteps().down) this.addSql(statement); }`,
          `}`,
          '',
        ];
  writeFileSync(file, code.join('\n'));
  return file;
}

/** A project whose tables were created by an initial migration, before the entity declared policies. */
async function projectWithPlainTables(): Promise<AnyCliProject> {
  db = await createTestDatabase();
  project = cliProjectOfThisRun(db.ownerUrl);
  project.entities(noteEntities(false));
  project.ok('migration:create', '--initial');
  project.ok('migration:up');
  project.entities(noteEntities(true));
  return project;
}

it('a hand-written migration that creates what the entity declares: migration:up applies it, migration:check is clean, migration:down restores exactly', async () => {
  const p = await projectWithPlainTables();
  const before = await rlsState(db!, TABLES);
  expect(before.policies).toEqual([]);
  expect(p.run('migration:check').status).not.toBe(0);
  writeHandWrittenMigration(p, CREATE_DECLARED);
  p.ok('migration:up');
  const after = await rlsState(db!, TABLES);
  expect(after.policies.map((row) => row.policyname)).toEqual(['note_permissive_1_select', 'note_permissive_1_update', 'unpinned_only_delete']);
  expect(after.flags).toEqual([{ relname: 'note', enabled: true, forced: true }]);
  // On failure Jest prints the CLI's output with the status.
  expect(p.run('migration:check')).toMatchObject({ status: 0 });
  const files = p.migrations();
  expect(p.ok('migration:create')).toMatch(/No changes required/);
  expect(p.migrations()).toEqual(files);
  p.ok('migration:down');
  expect(await rlsState(db!, TABLES)).toEqual(before);
});

it('a hand-written migration that creates less than the entity declares leaves migration:check failing', async () => {
  const p = await projectWithPlainTables();
  writeHandWrittenMigration(p, `rls.steps(rls.enableRls('note'), rls.createPolicy('note', ownNotes, { position: 1 }))`);
  p.ok('migration:up');
  expect(p.run('migration:check').status).not.toBe(0);
});

it('a hand-written migration naming an unknown table fails migration:up with what to do, and changes nothing', async () => {
  const p = await projectWithPlainTables();
  const before = await rlsState(db!, TABLES);
  writeHandWrittenMigration(p, `rls.steps(rls.enableRls('note'), rls.createPolicy('notes', unpinnedOnly))`);
  const up = p.run('migration:up');
  expect(up.status).not.toBe(0);
  expect(up.output).toContain(`createPolicy: public.notes is not a table of this ORM's entities, so migration:check could not see what the step does. The entity tables are: public.note.`);
  expect(await rlsState(db!, TABLES)).toEqual(before);
  expect(p.run('migration:check').status).not.toBe(0);
});

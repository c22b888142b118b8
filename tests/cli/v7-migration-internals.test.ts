import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildPackageUnderV7, node22 } from '../fixtures/v7-cli-project';

// The tripwire of src/adapters/mikro-orm-7/migrations/internals.ts: on the installed MikroORM 7.2.1 every
// assumption holds, and each one that a release could break is caught, naming itself. Runs on Node 22
// against the compiled v7 adapter (MikroORM 7 ships only ES modules).

jest.setTimeout(120_000);

const repo = join(__dirname, '..', '..');
let build: string;

beforeAll(() => {
  build = buildPackageUnderV7(mkdtempSync(join(repo, 'v7', '.rls-build-')));
});
afterAll(() => rmSync(build, { recursive: true, force: true }));

/** Runs `script` on Node 22 in v7/ with `internals` and MikroORM's modules in scope; returns what it prints. */
function onV7(script: string): string {
  const prelude = [
    `const internals = require(${JSON.stringify(join(build, 'adapters/mikro-orm-7/migrations/internals'))});`,
    `const { rlsExtensions } = require(${JSON.stringify(join(build, 'adapters/mikro-orm-7/migrations'))});`,
    `const sql = require('@mikro-orm/sql'); const { Migrator } = require('@mikro-orm/migrations');`,
    `const problem = (list) => { try { internals.assertAssumptionsHold(list); return 'ok'; } catch (e) { return e.constructor.name + ': ' + e.message; } };`,
  ].join('\n');
  return execFileSync(node22, ['-e', `${prelude}\n${script}`], { cwd: join(repo, 'v7'), encoding: 'utf8' }).trim();
}

it('holds on the installed MikroORM 7, and rlsExtensions registers the generator and a Migrator named Migrator', () => {
  expect(onV7(`internals.assertMigrationAssumptions(true); console.log(rlsExtensions().map((e) => e.name).join(','))`)).toBe('RlsSchemaGenerator,Migrator');
});

it.each([
  ['prepareSchemaForComparison', `sql.SqlSchemaGenerator.prototype.prepareSchemaForComparison = async function () {};`, /SqlSchemaGenerator.prototype.prepareSchemaForComparison no longer calls this.getTargetSchema\(/],
  ['getUpdateSchemaSQL', `sql.SqlSchemaGenerator.prototype.getUpdateSchemaSQL = async function () { return ''; };`, /getUpdateSchemaSQL no longer calls this.prepareSchemaForComparison\(/],
  ['setPolicies', `delete sql.DatabaseTable.prototype.setPolicies;`, /DatabaseTable.prototype has no setPolicies/],
  ['setPartitioning', `delete sql.DatabaseTable.prototype.setPartitioning;`, /DatabaseTable.prototype has no setPartitioning/],
  [
    "way down's comparison",
    `sql.SqlSchemaGenerator.prototype.getUpdateSchemaMigrationSQL = async function () { const { fromSchema, toSchema } = await this.prepareSchemaForComparison({}); return { fromSchema, toSchema }; };`,
    /getUpdateSchemaMigrationSQL no longer calls comparator\.compare\(toSchema, fromSchema/,
  ],
])('catches a changed %s', (_, patch, message) => {
  const out = onV7(`${patch}\nconsole.log(problem(internals.SCHEMA_GENERATOR_ASSUMPTIONS))`);
  expect(out).toMatch(/^RlsAdapterAssumptionError: /);
  expect(out).toMatch(message);
});

it.each([
  ['getSchemaDiff', `Migrator.prototype.getSchemaDiff = undefined;`, /Migrator.prototype has no getSchemaDiff/],
  ['create', `Migrator.prototype.create = async function () {};`, /Migrator.prototype.create no longer calls this.getSchemaDiff\(/],
  ['storeCurrentSchema', `Migrator.prototype.storeCurrentSchema = async function () {};`, /storeCurrentSchema no longer calls this.getSnapshotPath\(\)/],
  ['runner', `require('@mikro-orm/migrations').MigrationRunner.prototype.run = async function () {};`, /MigrationRunner.prototype.run no longer calls !migration.isTransactional\(\)/],
  ['generator', `require('@mikro-orm/migrations').MigrationGenerator.prototype.generate = async function () {};`, /MigrationGenerator.prototype.generate no longer calls this.generateMigrationFile\(/],
])("catches a changed Migrator's %s", (_, patch, message) => {
  const out = onV7(`${patch}\nconsole.log(problem(internals.migratorAssumptions(Migrator.prototype)))`);
  expect(out).toMatch(/^RlsAdapterAssumptionError: /);
  expect(out).toMatch(message);
});

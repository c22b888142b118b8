import { loadOptionalDependencies } from '@mikro-orm/core';
import { DatabaseSchema, DatabaseTable, SqlSchemaGenerator } from '@mikro-orm/sql';
import { sourceIncludes } from '../../../core/adapter/source-text';
import { RlsAdapterAssumptionError } from '../../../core/errors/rls-adapter-assumption-error';

/**
 * Every internal of MikroORM 7 that the migrations part of the adapter (schema generator, Migrator)
 * relies on, with why no public API serves. Checked by `rlsExtensions()` (so when `withRls` runs), and by
 * the tripwire test (tests/v7/migration-internals). Kept apart from the adapter's `internals.ts` so that
 * the Migrator's, which need the optional `@mikro-orm/migrations`, are checked only when it is installed.
 */
export interface MigrationAssumption {
  readonly what: string;
  readonly why: string;
  problem(): string | undefined;
}

type Owner = object | undefined;
const member = (owner: Owner, name: string) => (owner as Record<string, unknown> | undefined)?.[name];
const missingMethods = (label: string, owner: Owner, names: readonly string[]) => {
  const missing = names.filter((name) => typeof member(owner, name) !== 'function');
  return missing.length > 0 ? `${label} has no ${missing.join(', ')}` : undefined;
};
/** `owner[method]`'s source contains every one of `texts`, in any layout (see core/adapter/source-text.ts). */
const calls = (label: string, owner: Owner, method: string, texts: readonly string[]) => {
  const fn = member(owner, method);
  if (typeof fn !== 'function') return `${label} has no ${method}`;
  const absent = texts.filter((text) => !sourceIncludes(fn.toString(), text));
  return absent.length > 0 ? `${label}.${method} no longer calls ${absent.join(', ')}` : undefined;
};
const first = (...problems: (string | undefined)[]) => problems.find((p) => p !== undefined);

const generator = SqlSchemaGenerator.prototype;

export const SCHEMA_GENERATOR_ASSUMPTIONS: readonly MigrationAssumption[] = [
  {
    what: "MikroORM's SqlSchemaGenerator builds every comparison in prepareSchemaForComparison and every target schema in getTargetSchema",
    why: 'migrations/rls-schema-generator.ts strips native policies and RLS flags there, so native policy diffing writes nothing (no public option turns it off: ignorePolicies still creates declared policies and recreates live ones)',
    problem: () =>
      first(
        missingMethods('SqlSchemaGenerator.prototype', generator, ['getTargetSchema', 'getCreateSchemaSQL', 'getUpdateSchemaSQL', 'getUpdateSchemaMigrationSQL', 'prepareSchemaForComparison']),
        calls('SqlSchemaGenerator.prototype', generator, 'getUpdateSchemaSQL', ['this.prepareSchemaForComparison(']),
        calls('SqlSchemaGenerator.prototype', generator, 'getUpdateSchemaMigrationSQL', ['this.prepareSchemaForComparison(']),
        calls('SqlSchemaGenerator.prototype', generator, 'prepareSchemaForComparison', ['this.getTargetSchema(']),
        calls('SqlSchemaGenerator.prototype', generator, 'getCreateSchemaSQL', ['this.getTargetSchema(']),
      ),
  },
  {
    what: "MikroORM's schema tables keep native RLS state in setPolicies / rlsEnabled / rlsForced",
    why: 'migrations/without-native-rls.ts clears exactly those; a new place for native RLS state would be compared again',
    problem: () =>
      first(
        missingMethods('DatabaseTable.prototype', DatabaseTable.prototype, ['setPolicies', 'getPolicies']),
        calls('DatabaseSchema', DatabaseSchema, 'fromMetadata', ['table.rlsEnabled =', 'table.rlsForced =', 'table.addPolicy(']),
      ),
  },
  {
    what: "MikroORM's schema tables keep their partitioning in getPartitioning / setPartitioning, and the way down of a migration compares the two schemas the other way round",
    why: 'migrations/undeclared-partitioning.ts clears the live partitioning of tables whose entity declares none, so the way down does not rebuild them',
    problem: () =>
      first(
        missingMethods('DatabaseTable.prototype', DatabaseTable.prototype, ['getPartitioning', 'setPartitioning', 'getShortestName']),
        calls('SqlSchemaGenerator.prototype', generator, 'getUpdateSchemaMigrationSQL', ['comparator.compare(toSchema, fromSchema']),
      ),
  },
  {
    what: "MikroORM adds its own Migrator after the configured extensions unless one of them is named 'Migrator'",
    why: "migrations/rls-migrator.ts: the class's name is 'Migrator', so the native one is not registered over it",
    problem: () => calls('@mikro-orm/core', { loadOptionalDependencies }, 'loadOptionalDependencies', ['ext.name === name', "exists('Migrator')"]),
  },
];

/** The Migrator's, checked when `@mikro-orm/migrations` is installed; `migrator` is its Migrator.prototype. */
export function migratorAssumptions(migrator: Owner): readonly MigrationAssumption[] {
  return [
    {
      what: "MikroORM's Migrator builds every migration's SQL in getSchemaDiff (create, --initial) from the registered schema generator",
      why: 'migrations/rls-migrator.ts replaces getSchemaDiff (private in the typings) to add the policy plan, and asks the generator for its SQL without policies',
      problem: () =>
        first(
          missingMethods('Migrator.prototype', migrator, ['getSchemaDiff', 'getSnapshotPath', 'hasSnapshot', 'storeCurrentSchema', 'checkSchema', 'init']),
          calls('Migrator.prototype', migrator, 'create', ['this.getSchemaDiff(', 'diff.up.length === 0']),
          calls('Migrator.prototype', migrator, 'createInitial', ['this.getSchemaDiff(blank, true)']),
          calls('Migrator.prototype', migrator, 'getSchemaDiff', ['getCreateSchemaSQL(', 'getUpdateSchemaMigrationSQL(', 'getSchemaFromSnapshot()']),
        ),
    },
    {
      what: "MikroORM's Migrator writes a file through this.generator's generateMigrationFile, and runs a migration whose isTransactional() is false outside a transaction",
      why: 'migrations/rls-migrator.ts: a migration too large for one transaction says isTransactional() is false in its class, and each of its statements holds one transaction; no option of the generator writes that',
      problem: () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { MigrationGenerator, MigrationRunner } = require('@mikro-orm/migrations') as typeof import('@mikro-orm/migrations');
        return first(
          missingMethods('Migrator.prototype', migrator, ['getPending']),
          calls('Migrator.prototype', migrator, 'create', ['this.generator.generate(']),
          calls('Migrator.prototype', migrator, 'createInitial', ['this.generator.generate(']),
          calls('MigrationGenerator.prototype', MigrationGenerator.prototype, 'generate', ['this.generateMigrationFile(']),
          calls('MigrationRunner.prototype', MigrationRunner.prototype, 'run', ['!migration.isTransactional()']),
        );
      },
    },
    {
      what: "MikroORM's Migrator keeps its snapshot at getSnapshotPath() and writes it in storeCurrentSchema",
      why: 'migrations/rls-migrator.ts keeps `.snapshot-<db>.rls.json` next to it (the MikroORM 6 file), written when the schema snapshot is',
      problem: () => calls('Migrator.prototype', migrator, 'storeCurrentSchema', ['this.getSnapshotPath()', 'getTargetSchema()']),
    },
  ];
}

/** Throws an RlsAdapterAssumptionError naming the first assumption that does not hold. */
export function assertAssumptionsHold(assumptions: readonly MigrationAssumption[]): void {
  for (const assumption of assumptions) {
    const problem = assumption.problem();
    if (problem !== undefined) throw new RlsAdapterAssumptionError(assumption.what, problem);
  }
}

/** Every assumption above; the Migrator's when `@mikro-orm/migrations` is installed. */
export function assertMigrationAssumptions(withMigrator: boolean): void {
  assertAssumptionsHold(SCHEMA_GENERATOR_ASSUMPTIONS);
  if (withMigrator) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Migrator } = require('@mikro-orm/migrations') as typeof import('@mikro-orm/migrations');
    assertAssumptionsHold(migratorAssumptions(Migrator.prototype));
  }
}

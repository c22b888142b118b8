import { assertMigrationAssumptions } from './internals';
import { RlsSchemaGenerator } from './rls-schema-generator';

/** What MikroORM's `extensions` option takes. */
export interface RlsExtension {
  readonly name: string;
  register(orm: never): void;
}

const isMissingMigrationsPackage = (error: unknown) => {
  const code = (error as { code?: string }).code;
  return (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && /@mikro-orm\/migrations/.test((error as Error).message);
};

/**
 * The policy-aware Migrator, when `@mikro-orm/migrations` is installed (an optional peer). Loaded lazily,
 * so an application without migrations never loads it.
 */
function rlsMigrator(): RlsExtension | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('./rls-migrator') as typeof import('./rls-migrator')).RlsMigrator;
  } catch (error) {
    if (isMissingMigrationsPackage(error)) return undefined;
    throw error;
  }
}

/**
 * The MikroORM 7 extensions `withRls` registers after the user's own, so that `schema:*`, `migration:*`,
 * `orm.schema` and `orm.migrator` write this package's policies (and native policy diffing writes none):
 * the schema generator, and the Migrator when `@mikro-orm/migrations` is installed. Checks the MikroORM
 * internals they extend first.
 *
 * @example
 * const options = { ...config, extensions: [...(config.extensions ?? []), ...rlsExtensions()] };
 *
 * @throws {RlsAdapterAssumptionError} when an internal they extend is not what they expect.
 */
export function rlsExtensions(): RlsExtension[] {
  const migrator = rlsMigrator();
  assertMigrationAssumptions(migrator !== undefined);
  return [RlsSchemaGenerator as unknown as RlsExtension, ...(migrator ? [migrator] : [])];
}

export { RlsSchemaGenerator } from './rls-schema-generator';
export { SCHEMA_GENERATOR_ASSUMPTIONS, migratorAssumptions, assertMigrationAssumptions, type MigrationAssumption } from './internals';

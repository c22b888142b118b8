import type { MikroORM } from '@mikro-orm/core';

/** What creating a migration returns, on both majors. */
export interface CreatedMigration {
  fileName: string;
  code: string;
  diff: { up: string[]; down: string[] };
}

/**
 * The ORM's Migrator (the one the CLI's migration commands use) under the names of MikroORM 6, on either
 * major: MikroORM 6 has `orm.getMigrator()` with `createMigration` / `checkMigrationNeeded`, MikroORM 7
 * `orm.migrator` with `create` / `checkSchema` (the v7 run runs these same tests). `instance` is the
 * Migrator itself, for checks of its class.
 */
export interface MigratorOfEitherMajor {
  readonly instance: object;
  createMigration(path?: string, blank?: boolean, initial?: boolean, name?: string): Promise<CreatedMigration>;
  checkMigrationNeeded(): Promise<boolean>;
  up(): Promise<unknown>;
  down(): Promise<unknown>;
}

interface V6Migrator {
  createMigration(path?: string, blank?: boolean, initial?: boolean, name?: string): Promise<CreatedMigration>;
  checkMigrationNeeded(): Promise<boolean>;
}
interface V7Migrator {
  create(path?: string, blank?: boolean, initial?: boolean, name?: string): Promise<CreatedMigration>;
  checkSchema(): Promise<boolean>;
}
type EitherMigrator = Partial<V6Migrator & V7Migrator> & { up(): Promise<unknown>; down(): Promise<unknown> };
type OrmOfEitherMajor = { getMigrator?(): EitherMigrator; readonly migrator?: EitherMigrator };

export function migratorOf(orm: MikroORM): MigratorOfEitherMajor {
  const either = orm as unknown as OrmOfEitherMajor;
  // MikroORM 7 has no getMigrator; MikroORM 6 has a `migrator` getter too, but getMigrator is its documented name.
  const migrator = typeof either.getMigrator === 'function' ? either.getMigrator() : either.migrator!;
  return {
    instance: migrator,
    createMigration: (path, blank, initial, name) => (migrator.create ? migrator.create(path, blank, initial, name) : migrator.createMigration!(path, blank, initial, name)),
    checkMigrationNeeded: () => (migrator.checkSchema ? migrator.checkSchema() : migrator.checkMigrationNeeded!()),
    up: () => migrator.up(),
    down: () => migrator.down(),
  };
}

// `mikro-orm-rls/migrations`: SQL for hand-written migrations, rendered as generated migrations render it.
export { rlsMigration, type RlsMigrationHelpers, type RlsMigrationSql, type RlsMigrationTable, type RlsPolicyPlace, type RlsEnableOptions, type RlsMigrationConfig } from './rls-migration-sql';

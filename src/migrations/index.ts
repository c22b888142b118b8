export { RlsMigrator } from './rls-migrator';
export { RlsSchemaGenerator } from './rls-schema-generator';
export { planRlsMigration, type PlanInput, type RlsPlan } from './plan-rls-migration';
export { tablesInSchemaSql, type TouchedTables } from './tables-in-sql';
export type { RlsSnapshot } from './rls-snapshot';

export { RlsMigrator } from './rls-migrator';
export { RlsSchemaGenerator } from './rls-schema-generator';
export { planRlsMigration, type PlanInput, type RlsPlan } from '../../../core/plan/plan-rls-migration';
export { tablesInSchemaSql, type TouchedTables } from '../../../core/plan/tables-in-sql';
export type { RlsSnapshot } from '../../../core/plan/rls-snapshot';

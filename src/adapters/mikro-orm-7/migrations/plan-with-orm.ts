import type { EntityManager } from '@mikro-orm/core';
import { planRlsMigration, type PlanInput, type RlsPlan } from '../../../core/plan/plan-rls-migration';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';
import { inOrmTransaction } from '../policies/in-orm-transaction';

export interface SchemaStatements {
  readonly up: readonly string[];
  readonly down: readonly string[];
}

/** The schema unqualified table names are in: MikroORM's `schema` option, else the platform's default. */
export function defaultSchemaOf(em: EntityManager): string {
  return em.config.get('schema') ?? em.getPlatform().getDefaultSchemaName() ?? 'public';
}

/**
 * Plans the RLS part of a schema change against the ORM's database (MikroORM 7), in a transaction that
 * changes nothing: PostgreSQL canonicalises the declared expressions, the catalog (or the snapshot) gives
 * the current state.
 */
export async function planWithOrm(
  em: EntityManager,
  schema: SchemaStatements,
  options: Pick<PlanInput, 'snapshot' | 'initial' | 'catchUpSchema'> = {},
): Promise<RlsPlan> {
  const settings = rlsSettingsOf(em.config);
  return inOrmTransaction(em, (db) =>
    planRlsMigration(db, {
      desired: settings.tables,
      entityTables: settings.entityTables,
      schema,
      defaultSchema: defaultSchemaOf(em),
      manageAllPolicies: settings.manageAllPolicies,
      ...options,
    }),
  );
}

import type { Configuration, EntityManager } from '@mikro-orm/core';
import type { AbstractSqlDriver, AbstractSqlPlatform } from '@mikro-orm/knex';
import { knexQueryable } from '../policies/knex-queryable';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';
import { baseDriver } from '../wire/scoped-driver';
import { planRlsMigration, type PlanInput, type RlsPlan } from '../../../core/plan/plan-rls-migration';

export interface SchemaStatements {
  readonly up: readonly string[];
  readonly down: readonly string[];
}

export function defaultSchemaOf(config: Configuration, platform: AbstractSqlPlatform): string {
  return config.get('schema') ?? platform.getDefaultSchemaName() ?? 'public';
}

/** Plans the RLS part of a schema change against the ORM's database, in a transaction that changes nothing. */
export async function planWithOrm(
  em: EntityManager,
  schema: SchemaStatements,
  options: Pick<PlanInput, 'snapshot' | 'initial' | 'catchUpSchema'> = {},
): Promise<RlsPlan> {
  const settings = rlsSettingsOf(em.config);
  const driver = baseDriver(em.getDriver() as unknown as AbstractSqlDriver);
  return driver.getConnection('write').transactional((trx) =>
    planRlsMigration(knexQueryable(trx), {
      desired: settings.tables,
      entityTables: settings.entityTables,
      schema,
      defaultSchema: defaultSchemaOf(em.config, driver.getPlatform()),
      manageAllPolicies: settings.manageAllPolicies,
      ...options,
    }),
  );
}

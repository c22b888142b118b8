import type { EntityManager, MikroORM } from '@mikro-orm/core';
import { describePoliciesIn, entityNamesOf, type DescribePoliciesOptions, type PolicyMap } from '../../../core/explorer';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';
import { inOrmTransaction } from '../policies/in-orm-transaction';

/**
 * The policy explorer's data (MikroORM 7): per table with declared policies, what each command gets and
 * from which policies, the warnings and, with `live`, the database's side and the differences.
 * Read-only, in one transaction of the ORM's connection (or of `em`'s, when given a manager).
 *
 * @example
 * const map = await describePolicies(orm, { live: true });
 * for (const t of map.tables) for (const d of t.differences) console.log(`${t.schema}.${t.name}: ${d.message}`);
 *
 * @throws {RlsConfigurationError} when the ORM was not set up with `withRls`.
 */
export async function describePolicies(orm: MikroORM | EntityManager, options: DescribePoliciesOptions = {}): Promise<PolicyMap> {
  const em = 'em' in orm ? orm.em : orm;
  const settings = rlsSettingsOf(em.config);
  const entityOf = entityNamesOf(em.getMetadata());
  return inOrmTransaction(em, (db) => describePoliciesIn(db, settings, entityOf, options));
}

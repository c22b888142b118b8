import type { EntityManager } from '@mikro-orm/core';
import type { AbstractSqlDriver } from '@mikro-orm/knex';
import { RlsAdapterAssumptionError } from '../../../core/errors/rls-adapter-assumption-error';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';
import { flushWriteChecks } from '../../../core/writes/invisible-flush-writes';
import type { WritingDriver } from '../../../core/writes/writing-driver';
import { invisibleRowError } from './rls-violation-error';
import { scopeOf } from '../wire/scoped-driver';

/**
 * With `refuseInvisibleWrites`, makes the flushes of a scoped manager refuse writes that reach no row
 * (see {@link flushWriteChecks}). Called for every new manager (each fork has its own UnitOfWork).
 */
export function refuseInvisibleFlushWrites(em: EntityManager): void {
  const driver = (em as unknown as { driver: AbstractSqlDriver }).driver;
  if (!scopeOf(driver) || !rlsSettingsOf(em.config).refuseInvisibleWrites) return;
  // MikroORM internal: the ChangeSetPersister sends a flush's statements through its own `driver`
  // field, taken from the manager when its UnitOfWork is built (MikroORM 6.6).
  const persister = em.getUnitOfWork(false).getChangeSetPersister() as unknown as { driver?: AbstractSqlDriver };
  if (persister.driver !== driver) {
    throw new RlsAdapterAssumptionError(
      "MikroORM's ChangeSetPersister keeps the manager's driver in `driver` (for refuseInvisibleWrites)",
      'its `driver` is not the manager\'s; remove refuseInvisibleWrites or use MikroORM 6.6',
    );
  }
  const checked = flushWriteChecks(driver as unknown as WritingDriver, invisibleRowError);
  Object.defineProperty(persister, 'driver', { value: checked, configurable: true, writable: true });
}

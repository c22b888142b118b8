import type { EntityManager } from '@mikro-orm/core';
import type { AbstractSqlDriver } from '@mikro-orm/sql';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';
import { flushWriteChecks } from '../../../core/writes/invisible-flush-writes';
import type { WritingDriver } from '../../../core/writes/writing-driver';
import { invisibleRowError } from './rls-violation-error';
import { scopeOf } from '../wire/scoped-driver';

const CHECKED = new WeakMap<object, AbstractSqlDriver>();

/**
 * The driver a manager hands its helpers while its constructor runs. MikroORM 7's ChangeSetPersister
 * keeps the driver it gets from `em.getDriver()` in its constructor in a #private field (see
 * internals.ts), so with `refuseInvisibleWrites` a scoped manager hands out the view that refuses flush
 * writes reaching no row (see {@link flushWriteChecks}) there: its flushes go through that view. The
 * loader and factory built in the same constructor get the view too; it changes only the write members.
 */
export function driverUnderConstruction(em: EntityManager, driver: AbstractSqlDriver): AbstractSqlDriver {
  if (!scopeOf(driver) || !rlsSettingsOf(em.config).refuseInvisibleWrites) return driver;
  let checked = CHECKED.get(em);
  if (!checked) CHECKED.set(em, (checked = flushWriteChecks(driver as unknown as WritingDriver, invisibleRowError) as unknown as AbstractSqlDriver));
  return checked;
}

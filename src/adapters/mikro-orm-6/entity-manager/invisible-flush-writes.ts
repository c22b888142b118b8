import type { EntityManager, EntityMetadata, FilterQuery } from '@mikro-orm/core';
import type { AbstractSqlDriver } from '@mikro-orm/knex';
import { RlsAdapterAssumptionError } from '../../../core/errors/rls-adapter-assumption-error';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';
import { RlsInvisibleRowError } from './rls-violation-error';
import { scopeOf } from '../wire/scoped-driver';

type UpdateOptions = NonNullable<Parameters<AbstractSqlDriver['nativeUpdate']>[3]>;
type DeleteOptions = NonNullable<Parameters<AbstractSqlDriver['nativeDelete']>[2]>;

const WHY =
  "is not visible to this fork's scope (another tenant's row, merged or referenced into this fork) or no longer exists. " +
  'Load the entity through the fork that writes it. (withRls option refuseInvisibleWrites)';

const label = (pk: unknown) => (pk !== null && typeof pk === 'object' ? JSON.stringify(Object.values(pk as object).length === 1 ? Object.values(pk as object)[0] : pk) : String(pk));

function refuse(meta: EntityMetadata, command: 'update' | 'delete', pks: readonly unknown[], changed: number): never {
  const rows = pks.length === 1 ? 'changed no row: the row' : `changed ${changed} of ${pks.length} rows: the others`;
  throw new RlsInvisibleRowError(`${command} of ${meta.className} ${pks.map(label).join(', ')} ${rows} ${WHY}`, meta.className, meta.tableName, command);
}

// MikroORM reports these itself, as an OptimisticLockError, when they reach no row.
const versioned = (meta: EntityMetadata) => !!meta.versionProperty || meta.concurrencyCheckKeys.size > 0;

/**
 * A view of a scoped driver for one UnitOfWork's ChangeSetPersister: the UPDATE and DELETE statements a
 * flush sends name each row by primary key, so fewer affected rows than names means a row the scope
 * cannot see (PostgreSQL's policies hide it without an error). `em.nativeUpdate()`/`nativeDelete()` use
 * the manager's own driver, not this view, so a where that matches nothing stays normal there.
 */
function flushDriver<D extends AbstractSqlDriver>(driver: D): D {
  const metaOf = (entityName: string) => driver.getMetadata().find(entityName)!;
  return Object.create(driver, {
    nativeUpdate: {
      async value(entityName: string, where: FilterQuery<object>, data: object, options?: UpdateOptions) {
        const res = await driver.nativeUpdate(entityName, where, data, options);
        const meta = metaOf(entityName);
        if (!res.affectedRows && !options?.upsert && !versioned(meta)) refuse(meta, 'update', [where], 0);
        return res;
      },
    },
    nativeUpdateMany: {
      async value(entityName: string, where: FilterQuery<object>[], data: object[], options?: UpdateOptions) {
        const res = await driver.nativeUpdateMany(entityName, where, data, options);
        const meta = metaOf(entityName);
        if (res.affectedRows < where.length && !options?.upsert && !versioned(meta)) refuse(meta, 'update', where, res.affectedRows);
        return res;
      },
    },
    nativeDelete: {
      // A flush deletes by `{ [primary key]: { $in: [...] } }`, one chunk at a time.
      async value(entityName: string, where: FilterQuery<object>, options?: DeleteOptions) {
        const res = await driver.nativeDelete(entityName, where, options);
        const [condition] = Object.values(where as object) as { $in?: unknown[] }[];
        const pks = Object.keys(where as object).length === 1 && Array.isArray(condition?.$in) ? condition.$in : undefined;
        if (pks && res.affectedRows < pks.length) refuse(metaOf(entityName), 'delete', pks, res.affectedRows);
        return res;
      },
    },
  }) as D;
}

/**
 * With `refuseInvisibleWrites`, makes the flushes of a scoped manager refuse writes that reach no row
 * (see {@link flushDriver}). Called for every new manager (each fork has its own UnitOfWork).
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
  Object.defineProperty(persister, 'driver', { value: flushDriver(driver), configurable: true, writable: true });
}

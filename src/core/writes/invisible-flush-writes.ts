import type { EntityMetadata } from '@mikro-orm/core';
import { callDriver, type InvisibleRowErrorFactory, type UpsertFlags, type WritingDriver } from './writing-driver';

const WHY =
  "is not visible to this fork's scope (another tenant's row, merged or referenced into this fork) or no longer exists. " +
  'Load the entity through the fork that writes it. (withRls option refuseInvisibleWrites)';

const label = (pk: unknown) => (pk !== null && typeof pk === 'object' ? JSON.stringify(Object.values(pk as object).length === 1 ? Object.values(pk as object)[0] : pk) : String(pk));

// MikroORM reports these itself, as an OptimisticLockError, when they reach no row.
const versioned = (meta: EntityMetadata) => !!meta.versionProperty || meta.concurrencyCheckKeys.size > 0;

/**
 * A view of a scoped driver for one UnitOfWork's ChangeSetPersister: the UPDATE and DELETE statements a
 * flush sends name each row by primary key, so fewer affected rows than names means a row the scope
 * cannot see (PostgreSQL's policies hide it without an error). `em.nativeUpdate()`/`nativeDelete()` use
 * the manager's own driver, not this view, so a where that matches nothing stays normal there. How the
 * persister is given the view is the adapter's business (it differs per major).
 */
export function flushWriteChecks<D extends WritingDriver>(driver: D, invisibleRow: InvisibleRowErrorFactory): D {
  const metaOf = (entityName: unknown) => driver.getMetadata().find(entityName as never)!;
  const refuse = (meta: EntityMetadata, command: 'update' | 'delete', pks: readonly unknown[], changed: number): never => {
    const rows = pks.length === 1 ? 'changed no row: the row' : `changed ${changed} of ${pks.length} rows: the others`;
    throw invisibleRow(`${command} of ${meta.className} ${pks.map(label).join(', ')} ${rows} ${WHY}`, meta.className, meta.tableName, command);
  };
  return Object.create(driver, {
    nativeUpdate: {
      async value(entityName: unknown, where: unknown, data: unknown, options?: UpsertFlags) {
        const res = await callDriver<{ affectedRows: number }>(driver, 'nativeUpdate', driver, [entityName, where, data, options]);
        const meta = metaOf(entityName);
        if (!res.affectedRows && !options?.upsert && !versioned(meta)) refuse(meta, 'update', [where], 0);
        return res;
      },
    },
    nativeUpdateMany: {
      async value(entityName: unknown, where: unknown[], data: unknown[], options?: UpsertFlags, ...rest: unknown[]) {
        const res = await callDriver<{ affectedRows: number }>(driver, 'nativeUpdateMany', driver, [entityName, where, data, options, ...rest]);
        const meta = metaOf(entityName);
        if (res.affectedRows < where.length && !options?.upsert && !versioned(meta)) refuse(meta, 'update', where, res.affectedRows);
        return res;
      },
    },
    nativeDelete: {
      // A flush deletes by `{ [primary key]: { $in: [...] } }`, one chunk at a time.
      async value(entityName: unknown, where: object, options?: unknown) {
        const res = await callDriver<{ affectedRows: number }>(driver, 'nativeDelete', driver, [entityName, where, options]);
        const [condition] = Object.values(where) as { $in?: unknown[] }[];
        const pks = Object.keys(where).length === 1 && Array.isArray(condition?.$in) ? condition.$in : undefined;
        if (pks && res.affectedRows < pks.length) refuse(metaOf(entityName), 'delete', pks, res.affectedRows);
        return res;
      },
    },
  }) as D;
}

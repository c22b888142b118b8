import type { FilterQuery } from '@mikro-orm/core';
import type { AbstractSqlDriver } from '@mikro-orm/knex';
import { RlsInvisibleRowError } from './rls-violation-error';

type UpdateOptions = NonNullable<Parameters<AbstractSqlDriver['nativeUpdate']>[3]>;

const ADVICE =
  "onConflictAction: 'ignore' left it alone, so there is no row to return. Unique keys shared by tenants reveal " +
  "each other's rows: make the key include the tenant column (see the README's security model).";

/**
 * Members of a scoped driver view that turn an upsert with `onConflictAction: 'ignore'` whose conflicting
 * row the policies hide into {@link RlsInvisibleRowError}. PostgreSQL's `ON CONFLICT DO NOTHING` then
 * returns no row, and the row MikroORM reads back next is invisible; it would fail on the missing row with
 * a TypeError (or "Cannot find matching entity"), in the middle of hydration, which leaves its shared
 * hydrator marked as running, so that assignments to references stop being tracked ORM-wide. The check
 * is one `count` of the conflicting keys, sent only when the insert was ignored; a visible conflict
 * passes, and MikroORM returns the existing row as it does without RLS.
 */
export function hiddenConflictChecks(base: AbstractSqlDriver): PropertyDescriptorMap {
  let members = MEMBERS.get(base);
  if (!members) MEMBERS.set(base, (members = buildChecks(base)));
  return members;
}

// Built once per shared driver, not for every fork.
const MEMBERS = new WeakMap<AbstractSqlDriver, PropertyDescriptorMap>();

function buildChecks(base: AbstractSqlDriver): PropertyDescriptorMap {
  async function refuseHidden(view: AbstractSqlDriver, entityName: string, wheres: readonly FilterQuery<object>[], options: UpdateOptions): Promise<void> {
    const distinct = new Map(wheres.map((w) => [JSON.stringify(w), w]));
    const where = distinct.size === 1 ? [...distinct.values()][0] : { $or: [...distinct.values()] };
    const visible = await view.count(entityName, where as FilterQuery<object>, { ctx: options.ctx, schema: options.schema, connectionType: 'write' });
    if (visible >= distinct.size) return;
    const meta = view.getMetadata().find(entityName)!;
    const keys = Object.keys([...distinct.values()][0] ?? {}).join(', ');
    const which = distinct.size === 1 ? 'conflicts with a row that exists' : `conflicts, for ${distinct.size - visible} of ${distinct.size} rows, with rows that exist`;
    throw new RlsInvisibleRowError(
      `upsert of ${meta.className} on (${keys}) ${which} but is not visible to this fork's scope: ${ADVICE}`,
      meta.className,
      meta.tableName,
      'insert',
    );
  }
  const ignored = (options: UpdateOptions | undefined) => options?.upsert === true && options.onConflictAction === 'ignore';
  return {
    nativeUpdate: {
      async value(this: AbstractSqlDriver, entityName: string, where: FilterQuery<object>, data: object, options?: UpdateOptions) {
        const res = await base.nativeUpdate.call(this, entityName, where, data, options);
        if (ignored(options) && !res.affectedRows) await refuseHidden(this, entityName, [where], options!);
        return res;
      },
    },
    nativeUpdateMany: {
      async value(this: AbstractSqlDriver, entityName: string, where: FilterQuery<object>[], data: object[], options?: UpdateOptions) {
        const res = await base.nativeUpdateMany.call(this, entityName, where, data, options);
        if (ignored(options) && res.affectedRows < where.length) await refuseHidden(this, entityName, where, options!);
        return res;
      },
    },
  };
}

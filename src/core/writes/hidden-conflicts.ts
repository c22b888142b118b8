import { callDriver, type InvisibleRowErrorFactory, type UpsertFlags, type WritingDriver } from './writing-driver';

const ADVICE =
  "onConflictAction: 'ignore' left it alone, so there is no row to return. Unique keys shared by tenants reveal " +
  "each other's rows: make the key include the tenant column (see the README's security model).";

/**
 * Members of a scoped driver view that turn an upsert with `onConflictAction: 'ignore'` whose conflicting
 * row the policies hide into the adapter's `RlsInvisibleRowError`. PostgreSQL's `ON CONFLICT DO NOTHING`
 * then returns no row, and the row MikroORM reads back next is invisible; it would fail on the missing
 * row with a TypeError (or "Cannot find matching entity"), in the middle of hydration, which leaves its
 * shared hydrator marked as running, so that assignments to references stop being tracked ORM-wide. The
 * check is one `count` of the conflicting keys, sent only when the insert was ignored; a visible conflict
 * passes, and MikroORM returns the existing row as it does without RLS.
 */
export function hiddenConflictChecks(base: WritingDriver, invisibleRow: InvisibleRowErrorFactory): PropertyDescriptorMap {
  let members = MEMBERS.get(base);
  if (!members) MEMBERS.set(base, (members = buildChecks(base, invisibleRow)));
  return members;
}

// Built once per shared driver, not for every fork.
const MEMBERS = new WeakMap<WritingDriver, PropertyDescriptorMap>();

function buildChecks(base: WritingDriver, invisibleRow: InvisibleRowErrorFactory): PropertyDescriptorMap {
  async function refuseHidden(view: WritingDriver, entityName: unknown, wheres: readonly unknown[], options: UpsertFlags): Promise<void> {
    const distinct = new Map(wheres.map((w) => [JSON.stringify(w), w]));
    const where = distinct.size === 1 ? [...distinct.values()][0] : { $or: [...distinct.values()] };
    const visible = await callDriver<number>(view, 'count', view, [entityName, where, { ctx: options.ctx, schema: options.schema, connectionType: 'write' }]);
    if (visible >= distinct.size) return;
    const meta = view.getMetadata().find(entityName as never)!;
    const keys = Object.keys(([...distinct.values()][0] as object | undefined) ?? {}).join(', ');
    const which = distinct.size === 1 ? 'conflicts with a row that exists' : `conflicts, for ${distinct.size - visible} of ${distinct.size} rows, with rows that exist`;
    throw invisibleRow(`upsert of ${meta.className} on (${keys}) ${which} but is not visible to this fork's scope: ${ADVICE}`, meta.className, meta.tableName, 'insert');
  }
  const ignored = (options: UpsertFlags | undefined) => options?.upsert === true && options.onConflictAction === 'ignore';
  return {
    nativeUpdate: {
      async value(this: WritingDriver, entityName: unknown, where: unknown, data: unknown, options?: UpsertFlags) {
        const res = await callDriver<{ affectedRows: number }>(base, 'nativeUpdate', this, [entityName, where, data, options]);
        if (ignored(options) && !res.affectedRows) await refuseHidden(this, entityName, [where], options!);
        return res;
      },
    },
    nativeUpdateMany: {
      async value(this: WritingDriver, entityName: unknown, where: unknown[], data: unknown[], options?: UpsertFlags, ...rest: unknown[]) {
        const res = await callDriver<{ affectedRows: number }>(base, 'nativeUpdateMany', this, [entityName, where, data, options, ...rest]);
        if (ignored(options) && res.affectedRows < where.length) await refuseHidden(this, entityName, where, options!);
        return res;
      },
    },
  };
}

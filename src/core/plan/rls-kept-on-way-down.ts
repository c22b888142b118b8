import { forceRowLevelSecuritySql, rowLevelSecuritySql } from '../ddl/statements';
import { tableKey, tableSet } from '../ddl/table-keys';
import type { RlsOperation } from '../diff/operation';
import { statementTarget, tablesInSchemaSql } from './tables-in-sql';

/**
 * The RLS operations of a migration, with the way down of each table that outlives it keeping RLS on.
 * Such a table is one the migration's schema statements create and whose schema way down does not drop:
 * MikroORM writes no way down for `migration:create --initial`, so after `migration:down` its tables are
 * still there, with their rows. Turning RLS off there would not restore anything (before the migration
 * there was no table) and would show every row to the application role, with no policy left. So only the
 * policies go: ENABLE and FORCE stay, and the table shows no row until its policies are back.
 */
export function keepRlsOnTablesThatOutliveTheWayDown(
  ops: readonly RlsOperation[],
  schema: { readonly up: readonly string[]; readonly down: readonly string[] },
  defaultSchema: string,
): RlsOperation[] {
  const droppedOnTheWayDown = tableSet(tablesInSchemaSql(schema.down, defaultSchema).dropped);
  const outliving = tableSet(
    schema.up
      .map((statement) => statementTarget(statement, defaultSchema))
      .filter((target) => target?.kind === 'create-table' && !droppedOnTheWayDown.has(tableKey(target.table)))
      .map((target) => target!.table),
  );
  if (outliving.size === 0) return [...ops];
  return ops.map((op) => {
    if (!outliving.has(tableKey(op.table))) return op;
    const off = new Set([rowLevelSecuritySql(op.table, false), forceRowLevelSecuritySql(op.table, false)]);
    return op.down.some((statement) => off.has(statement)) ? { ...op, down: op.down.filter((statement) => !off.has(statement)) } : op;
  });
}

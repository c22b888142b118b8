import { forceRowLevelSecuritySql, rowLevelSecuritySql } from '../ddl/statements';
import { tableKey, tableSet } from '../ddl/table-keys';
import type { RlsOperation } from '../diff/operation';
import { statementTarget, tablesInSchemaSql } from './tables-in-sql';

type Schema = { readonly up: readonly string[]; readonly down: readonly string[] };

/**
 * `ops` without the statements that turn RLS off (DISABLE, NO FORCE) in `direction` on `tables`. A table
 * that a direction's schema statements drop never needs RLS turned off first, and must not get it: a
 * migration too large for one transaction is written as several, which commit one by one, so RLS off
 * would commit before the drop and leave every row readable by the application role in between, and for
 * good if a later transaction fails. Its policies still go, and the other direction is unchanged.
 */
function withoutRlsOff(ops: readonly RlsOperation[], direction: 'up' | 'down', tables: Set<string>): RlsOperation[] {
  if (tables.size === 0) return [...ops];
  return ops.map((op) => {
    if (!tables.has(tableKey(op.table))) return op;
    const off = new Set([rowLevelSecuritySql(op.table, false), forceRowLevelSecuritySql(op.table, false)]);
    return op[direction].some((statement) => off.has(statement)) ? { ...op, [direction]: op[direction].filter((statement) => !off.has(statement)) } : op;
  });
}

/** The tables the schema statements of the way up create (`create table`). */
function createdBy(schema: Schema, defaultSchema: string): Set<string> {
  const created = schema.up
    .map((statement) => statementTarget(statement, defaultSchema))
    .filter((target) => target?.kind === 'create-table')
    .map((target) => target!.table);
  return tableSet(created);
}

/**
 * The operations after the schema statements, whose way down never turns RLS off on a table the way up
 * creates. The way down drops such a table (its previous state was no table), or, for `migration:create
 * --initial`, whose way down MikroORM leaves empty, keeps it with its rows: RLS off there would restore
 * nothing and show every row to the application role. So it keeps ENABLE and FORCE and shows no row until
 * its policies are back.
 */
export function keepRlsOnCreatedTablesOnTheWayDown(after: readonly RlsOperation[], schema: Schema, defaultSchema: string): RlsOperation[] {
  return withoutRlsOff(after, 'down', createdBy(schema, defaultSchema));
}

/** The operations before the schema statements, whose way up never turns RLS off on a table it drops. */
export function keepRlsOnDroppedTablesOnTheWayUp(before: readonly RlsOperation[], schema: Schema, defaultSchema: string): RlsOperation[] {
  return withoutRlsOff(before, 'up', tableSet(tablesInSchemaSql(schema.up, defaultSchema).dropped));
}

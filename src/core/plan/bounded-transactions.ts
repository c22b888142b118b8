import type { TableRef } from '../ddl/quote';
import { forceRowLevelSecuritySql, rowLevelSecuritySql } from '../ddl/statements';
import { tableKey } from '../ddl/table-keys';
import type { RlsOperation } from '../diff/operation';
import { chunkByLocks } from './chunk-by-locks';
import { joinStatements } from './split-statements';
import { statementTarget } from './tables-in-sql';

/**
 * How many locks one transaction of a migration may take, by the pessimistic count of
 * {@link estimatedLocks}. PostgreSQL keeps every lock until the transaction ends, in one table shared by
 * all sessions, sized `max_locks_per_transaction` (64 by default) x `max_connections` (100): 6,400. The
 * estimate counts about twice what PostgreSQL really takes (a new table with 4 policies: 20 against 9), so a
 * transaction of this budget takes about a quarter of that table, and leaves the rest to the sessions of
 * the application and of other migrations running at the same time.
 */
export const TRANSACTION_LOCK_BUDGET = 3200;

const POLICY_STATEMENT = /^\s*(?:create|alter|drop|comment\s+on)\s+policy\b/i;

/**
 * A pessimistic count of the locks a statement takes that no earlier statement of its transaction holds:
 * a new table takes its own, its row type's, its sequences', its primary key's and its TOAST table's; a
 * policy statement its table's (and a comment the policy's). A drop takes more than a create: every
 * index, sequence, type and TOAST relation of the table, and each object dropped with it (measured on
 * PostgreSQL 15: 11 for a table with a serial primary key and an index, one more per policy); the
 * estimate is about twice that, as for the others, before its policies (see `dropSchemaSql`).
 */
export function estimatedLocks(statement: string): number {
  if (POLICY_STATEMENT.test(statement)) return 1;
  const kind = statementTarget(statement, 'public')?.kind;
  if (kind === 'drop-table') return 22;
  if (kind === 'create-table') return 8;
  if (kind === 'foreign-key') return 3;
  return 2;
}

/** A migration's statements: in one transaction (`transactional`), or as groups, each one transaction. */
export interface MigrationStatements {
  /** One entry per statement, or (not `transactional`) per transaction; `''` is a blank line. */
  readonly up: string[];
  readonly down: string[];
  readonly transactional: boolean;
}

/** A migration's parts, in the order they run up (see `planRlsMigration`). */
export interface MigrationParts {
  /** RLS operations before MikroORM's schema statements. */
  readonly before: readonly RlsOperation[];
  readonly schema: { readonly up: readonly string[]; readonly down: readonly string[] };
  /** RLS operations after them. */
  readonly after: readonly RlsOperation[];
  readonly defaultSchema: string;
}

/** Statements that must commit together: one schema statement, or all of one table's RLS statements. */
type Unit = string[];

/** Consecutive operations on the same table, as units of their `up` or `down` statements. */
function unitsByTable(ops: readonly RlsOperation[], direction: 'up' | 'down'): Unit[] {
  const units: Unit[] = [];
  ops.forEach((op, i) => {
    const previous = ops[i - 1];
    if (previous && tableKey(previous.table) === tableKey(op.table)) units[units.length - 1].push(...op[direction]);
    else units.push([...op[direction]]);
  });
  return units;
}

const isFlagOn = (op: RlsOperation) =>
  op.up.length === 1 && (op.up[0] === rowLevelSecuritySql(op.table, true) || op.up[0] === forceRowLevelSecuritySql(op.table, true));

/**
 * The units of each direction. Going up, a table the schema statements create gets ENABLE and FORCE ROW
 * LEVEL SECURITY in the same transaction as its CREATE TABLE, so no table is ever committed without RLS:
 * until its policies commit, it shows and accepts no row (fail closed). Going down is the reverse order of
 * the one-transaction migration.
 */
function unitsOf(parts: MigrationParts): { up: Unit[]; down: Unit[] } {
  const flagsOf = new Map<string, RlsOperation[]>();
  for (const op of parts.after) {
    if (!isFlagOn(op)) continue;
    const list = flagsOf.get(tableKey(op.table));
    if (list) list.push(op);
    else flagsOf.set(tableKey(op.table), [op]);
  }
  const hoisted = new Set<RlsOperation>();
  const schemaUp = parts.schema.up.filter((s) => s.trim() !== '').map((statement): Unit => {
    const target = statementTarget(statement, parts.defaultSchema);
    if (target?.kind !== 'create-table') return [statement];
    const flags = flagsOf.get(tableKey(target.table as TableRef)) ?? [];
    flags.forEach((op) => hoisted.add(op));
    return [statement, ...flags.flatMap((op) => op.up)];
  });
  const reversed = (ops: readonly RlsOperation[]) => [...ops].reverse();
  return {
    up: [...unitsByTable(parts.before, 'up'), ...schemaUp, ...unitsByTable(parts.after.filter((op) => !hoisted.has(op)), 'up')],
    down: [
      ...unitsByTable(reversed(parts.after), 'down'),
      ...parts.schema.down.filter((s) => s.trim() !== '').map((s) => [s]),
      ...unitsByTable(reversed(parts.before), 'down'),
    ],
  };
}

const locksOf = (unit: Unit) => unit.reduce((sum, statement) => sum + estimatedLocks(statement), 0);

/** Consecutive units packed into transactions within the budget; a unit over it alone gets one of its own. */
const transactionsOf = (units: readonly Unit[]): Unit[] => chunkByLocks(units, locksOf, TRANSACTION_LOCK_BUDGET).map((chunk) => chunk.flat());

const withBlankLines = (texts: string[]) => texts.flatMap((text, i) => (i === 0 ? [text] : ['', text]));

/**
 * The statements of the migration file. One transaction, as MikroORM runs a migration, when each
 * direction fits {@link TRANSACTION_LOCK_BUDGET}: `up` and `down` as given. Otherwise PostgreSQL could not
 * hold the locks of one transaction on a server with default settings (out of shared memory), so each
 * direction becomes consecutive transactions within the budget, each a single multi-statement text that
 * PostgreSQL runs as one transaction; a table's RLS statements are never split between two.
 */
export function migrationStatements(parts: MigrationParts, flat: { up: string[]; down: string[] }): MigrationStatements {
  const units = unitsOf(parts);
  const fits = (list: Unit[]) => locksOf(list.flat()) <= TRANSACTION_LOCK_BUDGET;
  if (fits(units.up) && fits(units.down)) return { ...flat, transactional: true };
  return {
    up: withBlankLines(transactionsOf(units.up).map(joinStatements)),
    down: withBlankLines(transactionsOf(units.down).map(joinStatements)),
    transactional: false,
  };
}

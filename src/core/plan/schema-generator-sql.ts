import type { TableRlsSpec } from '../ddl/policy-spec';
import { tableKey } from '../ddl/table-keys';
import type { RlsOperation } from '../diff/operation';
import { estimatedLocks, migrationStatements, TRANSACTION_LOCK_BUDGET, type MigrationStatements } from './bounded-transactions';
import { chunkByLocks } from './chunk-by-locks';
import { joinStatements, splitSqlStatements } from './split-statements';
import { statementTarget } from './tables-in-sql';

/**
 * The text of bounded transactions for MikroORM's schema generator: it runs each blank-line-separated
 * group of its SQL as one message, which PostgreSQL runs as one transaction.
 */
const boundedText = (statements: MigrationStatements) => statements.up.map((s) => (s === '' ? '\n' : `${s}\n`)).join('');

/**
 * `schema:create`'s SQL: MikroORM's, then the policies of every table. When the policies fit one
 * transaction (see `TRANSACTION_LOCK_BUDGET`), they follow MikroORM's SQL as one group, as they always
 * did. Otherwise one transaction holding them all would fail with `out of shared memory` on a server with
 * default settings (issue 14), so the whole text becomes bounded transactions as a migration's: each
 * table's ENABLE / FORCE in its CREATE TABLE's transaction (never committed without RLS), its policies in
 * one transaction, never split. The statements are the same, only grouped.
 */
export function createSchemaSql(sql: string, operations: readonly RlsOperation[], defaultSchema: string): string {
  const statements = operations.flatMap((op) => op.up);
  if (statements.length === 0) return sql;
  const bounded = migrationStatements({ before: [], schema: { up: splitSqlStatements(sql), down: [] }, after: operations, defaultSchema }, { up: [], down: [] });
  if (!bounded.transactional) return boundedText(bounded);
  return `${sql}\n${statements.map((s) => `${s};`).join('\n')}\n`;
}

/**
 * `schema:update`'s SQL from the plan: as `flat` writes the plan's statements when they fit one
 * transaction, in the migration's bounded transactions when they do not (see {@link createSchemaSql}).
 */
export function updateSchemaSql(plan: { readonly up: readonly string[]; readonly migration: MigrationStatements }, flat: (statement: string) => string): string {
  return plan.migration.transactional ? plan.up.map(flat).join('') : boundedText(plan.migration);
}

/**
 * `schema:drop`'s SQL (and so `schema:fresh`'s and `refreshDatabase()`'s first half): MikroORM's, which
 * drops every table in one transaction. A `DROP TABLE` takes about 11 locks for a table with a primary
 * key, an index and a sequence, and one more per policy it drops with it: 3,000 tables of four policies
 * need about 45,000, more than a default server's lock table (`out of shared memory`). When the estimate
 * is over one transaction's budget, the same statements come in consecutive transactions within it,
 * in MikroORM's order (the tables that reference others first; each drop cascades); a drop that fails
 * leaves the transactions before it applied, and running it again drops what is left. Smaller SQL stays
 * as MikroORM writes it, one transaction.
 */
export function dropSchemaSql(sql: string, declared: readonly TableRlsSpec[], defaultSchema: string): string {
  const policies = new Map(declared.map((spec) => [tableKey(spec.table), spec.policies.length]));
  const statements = splitSqlStatements(sql);
  const locksOf = (statement: string) => {
    const target = statementTarget(statement, defaultSchema);
    // Two per declared policy, as pessimistic as the rest of the estimate.
    return estimatedLocks(statement) + (target?.kind === 'drop-table' ? 2 * (policies.get(tableKey(target.table)) ?? 0) : 0);
  };
  const transactions = chunkByLocks(statements, locksOf, TRANSACTION_LOCK_BUDGET);
  if (transactions.length <= 1) return sql;
  return transactions.map((transaction) => `${joinStatements(transaction)}\n`).join('\n');
}

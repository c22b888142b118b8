import type { RlsOperation } from '../diff/operation';
import { migrationStatements, type MigrationStatements } from './bounded-transactions';
import { splitSqlStatements } from './split-statements';

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

import { notTheOwner, notTheOwnerError, rejectedPolicyError } from '../catalog/rejected-policy';
import type { RejectedStatement } from '../catalog/statements-in-one-message';
import type { TableRlsSpec } from '../ddl/policy-spec';
import { tableLabel, type TableRef } from '../ddl/quote';
import { alterPolicySql, createPolicySql, forceRowLevelSecuritySql, rowLevelSecuritySql } from '../ddl/statements';
import type { RlsOperation } from '../diff/operation';
import { RlsConfigurationError } from '../errors/rls-configuration-error';

/** A statement of a chunk, with what it is about, so that an error can name it. */
export interface ChunkStatement {
  readonly sql: string;
  readonly table: TableRef;
  /** The declared policy it creates or alters (PostgreSQL checks the declaration there). */
  readonly policy?: string;
}

/** Where the work stood when a chunk failed: the error says what stays applied. */
export interface ChunkProgress {
  /** Tables in all chunks. */
  readonly tables: number;
  /** Tables of the chunks committed before this one. */
  readonly applied: number;
  /** Tables of this chunk (rolled back). */
  readonly inChunk: number;
}

/**
 * The operations' statements, each knowing its table and the declared policy it creates or alters: in
 * their order, except that the RLS switches (ENABLE / FORCE and their opposites) come after the chunk's
 * policy statements. The end state is the same (the chunk is one transaction), and it costs less: with
 * RLS on, PostgreSQL parses all of a table's policies again after each statement on the table.
 */
export function chunkStatements(operations: readonly RlsOperation[], desired: readonly TableRlsSpec[]): ChunkStatement[] {
  const declares = new Map<string, string>();
  for (const spec of desired) {
    for (const policy of spec.policies) {
      declares.set(createPolicySql(spec.table, policy), policy.name);
      declares.set(alterPolicySql(spec.table, policy), policy.name);
    }
  }
  const switches = new Set(operations.flatMap((op) => [true, false].flatMap((on) => [rowLevelSecuritySql(op.table, on), forceRowLevelSecuritySql(op.table, on)])));
  const statements = operations.flatMap((op) => op.up.map((sql) => ({ sql, table: op.table, ...(declares.has(sql) && { policy: declares.get(sql) }) })));
  return [...statements.filter((s) => !switches.has(s.sql)), ...statements.filter((s) => switches.has(s.sql))];
}

const count = (n: number) => n.toLocaleString('en-US');

/** What a failed chunk leaves, for the end of its error. */
function leftBehind(progress: ChunkProgress): string {
  if (progress.applied === 0) return ' Nothing was changed.';
  return (
    ` ${count(progress.applied)} of ${count(progress.tables)} tables were brought to their declared state in earlier transactions and stay so; ` +
    `the transaction of the next ${count(progress.inChunk)} was rolled back. Fix the cause and run it again: it does only what is still missing.`
  );
}

/** SQLSTATE and hint of a PostgreSQL error (node-postgres keeps them on the error). */
function postgresDetail(error: unknown): string {
  const { code, hint } = (error ?? {}) as { code?: unknown; hint?: unknown };
  const parts = [typeof code === 'string' ? `SQLSTATE ${code}` : '', typeof hint === 'string' && hint ? `hint: ${hint}` : ''].filter(Boolean);
  return parts.length > 0 ? ` (${parts.join('; ')})` : '';
}

/** The error thrown when PostgreSQL refused a statement of a chunk (see `runInOneMessage`). */
export function rejectedChunkStatement(progress: ChunkProgress): RejectedStatement<ChunkStatement> {
  const after = leftBehind(progress);
  return (statement, error, message) => {
    if (!statement) {
      return new RlsConfigurationError(`PostgreSQL refused the RLS statements of ${count(progress.inChunk)} tables: ${message}${postgresDetail(error)}.${after}`, { cause: error });
    }
    if (statement.policy !== undefined) return rejectedPolicyError(statement.table, statement.policy, error, message, after);
    if (notTheOwner(error)) return notTheOwnerError(statement.table, error, message, after);
    return new RlsConfigurationError(`PostgreSQL refused \`${statement.sql}\` on ${tableLabel(statement.table)}: ${message}${postgresDetail(error)}.${after}`, { cause: error });
  };
}

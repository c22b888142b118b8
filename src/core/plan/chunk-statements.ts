import { refusedStatementError, refusedStatementsError, type StatementOnTable } from '../catalog/refused-statement';
import type { RejectedStatement } from '../catalog/statements-in-one-message';
import type { TableRlsSpec } from '../ddl/policy-spec';
import { qualifiedTable, quoteIdent, type TableRef } from '../ddl/quote';
import { forceRowLevelSecuritySql, rowLevelSecuritySql } from '../ddl/statements';
import { tableKey } from '../ddl/table-keys';
import type { RlsOperation } from '../diff/operation';

/** Where the work stood when a chunk failed, once the chunks running beside it ended: the error says what stays applied. */
export interface ChunkProgress {
  /** Tables in all chunks. */
  readonly tables: number;
  /** Tables of the chunks that committed. */
  readonly applied: number;
  /** Tables of the chunk that failed (rolled back). */
  readonly inChunk: number;
}

/**
 * The operations' statements, each knowing its table and the declared policy it creates or alters: in
 * their order, except that the RLS switches (ENABLE / FORCE and their opposites) come after the chunk's
 * policy statements. The end state is the same (the chunk is one transaction), and it costs less: with
 * RLS on, PostgreSQL parses all of a table's policies again after each statement on the table.
 * `beforeSwitches` go between the two, for the same reason.
 */
export function chunkStatements(operations: readonly RlsOperation[], desired: readonly TableRlsSpec[], beforeSwitches: readonly StatementOnTable[] = []): StatementOnTable[] {
  // The declared policy a statement creates or alters, told by its head (`create policy "name" on
  // table`): the diff writes those statements for declared policies only, so the head is enough, and
  // rendering every declared policy twice to compare whole statements was about 6% of a fresh run.
  const heads = new Map<string, { create: string; alter: string; name: string }[]>();
  for (const spec of desired) {
    const on = qualifiedTable(spec.table);
    heads.set(
      tableKey(spec.table),
      spec.policies.map((policy) => ({ create: `create policy ${quoteIdent(policy.name)} on ${on} `, alter: `alter policy ${quoteIdent(policy.name)} on ${on} `, name: policy.name })),
    );
  }
  const declaredPolicy = (table: TableRef, sql: string) => heads.get(tableKey(table))?.find((head) => sql.startsWith(head.create) || sql.startsWith(head.alter))?.name;
  const switches = new Set(operations.flatMap((op) => [true, false].flatMap((on) => [rowLevelSecuritySql(op.table, on), forceRowLevelSecuritySql(op.table, on)])));
  const statements = operations.flatMap((op) =>
    op.up.map((sql) => {
      const policy = declaredPolicy(op.table, sql);
      return { sql, table: op.table, ...(policy !== undefined && { policy }) };
    }),
  );
  return [...statements.filter((s) => !switches.has(s.sql)), ...beforeSwitches, ...statements.filter((s) => switches.has(s.sql))];
}

const count = (n: number) => n.toLocaleString('en-US');

/** What a failed chunk leaves, for the end of its error. */
function leftBehind(progress: ChunkProgress): string {
  if (progress.applied === 0) return ' Nothing was changed.';
  return (
    ` ${count(progress.applied)} of ${count(progress.tables)} tables were brought to their declared state in transactions that committed and stay so; ` +
    `the other ${count(progress.tables - progress.applied)} were not changed (the transaction of ${count(progress.inChunk)} of them was rolled back). ` +
    'Fix the cause and run it again: it does only what is still missing.'
  );
}

/**
 * A chunk's failure, kept until the chunks running beside it have ended (see `runChunks`): only then is
 * it known what stays applied, which `complete` adds to the error it makes. `cause` is the driver's
 * error (its SQLSTATE tells a lock conflict). Never thrown to the caller of `createPolicies` itself.
 */
export class PendingChunkError extends Error {
  constructor(
    cause: unknown,
    readonly complete: (progress: ChunkProgress) => Error,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/** Defers an error made by `make(after)` until what stays applied is known (`after` says it). */
export const deferredUntilSettled = (make: (after: string) => Error, cause: unknown): Error => new PendingChunkError(cause, (progress) => make(leftBehind(progress)));

/** How runInOneMessage reports a refused statement of a chunk's message: deferred, see {@link PendingChunkError}. */
export const refusedChunkStatement: RejectedStatement<StatementOnTable> = (statement, error, message) =>
  new PendingChunkError(error, (progress) =>
    statement
      ? refusedStatementError(statement, error, message, leftBehind(progress))
      : refusedStatementsError(`The RLS statements of ${count(progress.inChunk)} tables`, error, message, leftBehind(progress)),
  );

/** The error to throw for a chunk that failed with `error`, saying what stays applied when it can. */
export function chunkError(error: unknown, progress: ChunkProgress): unknown {
  return error instanceof PendingChunkError ? error.complete(progress) : error;
}

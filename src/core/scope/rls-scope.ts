/** What a fork's statements run with: a validated context, or a switch to the bypass role. */
export type RlsScope =
  | {
      readonly kind: 'context';
      /** The single `select set_config(...)` statement, compiled at start-up. */
      readonly statement: string;
      readonly values: readonly string[];
      readonly context: Readonly<Record<string, unknown>>;
    }
  | { readonly kind: 'bypass'; readonly role: string };

/** A statement in MikroORM's placeholder form (`?`), with its values. */
export interface ScopeStatement {
  readonly sql: string;
  readonly params: readonly string[];
}

// The role name takes the placeholder and is written in as an escaped literal by MikroORM's quoting
// (never concatenated here); `is_local = true` ends the switch with the transaction.
const SWITCH_ROLE = "select pg_catalog.set_config('role', ?, true)";

/** The one statement that applies the scope, or nothing when there is nothing to set. */
export function scopeStatement(scope: RlsScope): ScopeStatement | undefined {
  if (scope.kind === 'bypass') return { sql: SWITCH_ROLE, params: [scope.role] };
  return scope.statement ? { sql: scope.statement, params: scope.values } : undefined;
}

/**
 * The results of a message that carried `count` statements of ours in front of the caller's SQL, as
 * the caller would have seen them without them: PostgreSQL answers a multi-statement message with one
 * result per statement, ours first; a single remaining result is unwrapped, as the driver does.
 */
export function withoutScopeResult<R>(results: R | R[], count: number, empty: R): R | R[] {
  if (!Array.isArray(results) || results.length <= count) return empty; // the caller's SQL held no statement
  const callers = results.slice(count);
  return callers.length === 1 ? callers[0] : callers;
}

/** The results of a message without the last `count` (statements of ours sent after the caller's). */
export function withoutTrailingResults<R>(results: R | R[], count: number): R | R[] {
  return Array.isArray(results) ? results.slice(0, Math.max(0, results.length - count)) : results;
}

/** Statements sent in front of the caller's: as sent (values written in) and as shown in errors. */
export interface ScopeSql {
  readonly literal: string;
  /** The same statements with `?` in place of the values. */
  readonly redacted: string;
  /** Sent after the scope's work (see session-reset.ts), with the number of results it adds. */
  readonly reset: { readonly sql: string; readonly results: number };
}

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

// The role name is bound, not spliced; `is_local = true` ends the switch with the transaction.
const SWITCH_ROLE = "select set_config('role', ?, true)";

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

/**
 * knex starts a failed statement's error message with the SQL it sent. Where the scope statement
 * travelled in front of the caller's SQL, it is cut from the message, so the error reads as the
 * caller's statement (and its first word is still the command) and the context's values stay out of it.
 */
export function hideScopeStatement(error: unknown, literalStatement: string): never {
  const prefix = `${literalStatement};\n`;
  if (error instanceof Error && error.message.startsWith(prefix)) error.message = error.message.slice(prefix.length);
  throw error;
}

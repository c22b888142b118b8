import { quoteLiteral } from '../ddl/quote';

/**
 * Statements that put back, at session level, what a scope's raw SQL could have changed for good: the
 * role (`SET ROLE`, `set_config('role', ..., false)`) and the context variables (`SET rls.x`,
 * `set_config('rls.x', ..., false)`). They travel in the same message as work already sent (after a
 * scoped message's statements, after a scoped transaction's COMMIT), so they cost no round trip; if
 * that work fails, PostgreSQL rolls the session-level changes back itself and these are skipped.
 * `RESET ROLE` returns to the role the session started with; a variable is set to '' (read as NULL).
 * Bypass forks reset the variables too: raw SQL there could set them for the next unscoped user.
 */
export function sessionReset(variables: readonly string[]): { sql: string; results: number } {
  const clear = variables.map((name) => `set_config(${quoteLiteral(name)}, '', false)`);
  return clear.length ? { sql: `reset role;\nselect ${clear.join(', ')}`, results: 2 } : { sql: 'reset role', results: 1 };
}

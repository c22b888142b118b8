import { quoteLiteral } from '../ddl/quote';

/**
 * Statements that put back, at session level, what a scope's raw SQL could have changed for good: the
 * role (`SET ROLE`, `set_config('role', ..., false)`) and the context variables (`SET rls.x`,
 * `set_config('rls.x', ..., false)`). They travel in the same message as work already sent (after a
 * scoped message's statements, after a scoped transaction's COMMIT), so they cost no round trip; if
 * that work fails, PostgreSQL rolls the session-level changes back itself and these are skipped.
 * `RESET ROLE` returns to the role the session started with; a variable is set to '' (read as NULL).
 * Bypass forks reset the variables too: raw SQL there could set them for the next unscoped user.
 * `DISCARD TEMP` drops the temporary tables the scope's SQL made, `CLOSE ALL` its cursors (WITH HOLD ones
 * outlive the transaction), `UNLISTEN *` its channels, `pg_advisory_unlock_all()` its session advisory
 * locks; each is cheap when there is nothing to undo. The same on every MikroORM major.
 */
export function sessionReset(variables: readonly string[]): { sql: string; results: number } {
  const clear = variables.map((name) => `pg_catalog.set_config(${quoteLiteral(name)}, '', false)`);
  // Temporary tables too: pg_temp is searched first and MikroORM does not schema-qualify table names, so
  // one named like an entity table would shadow it, without RLS, for the next user of the backend.
  // search_path, which could put a schema of the caller's in front of pg_catalog or of the entity tables
  // (every function here is qualified with pg_catalog for the same reason). And what else a later user
  // could reach through the connection: WITH HOLD cursors (rows read under
  // this scope, fetchable by name), LISTEN registrations and session advisory locks.
  const select = ['pg_catalog.pg_advisory_unlock_all()', ...clear];
  const statements = ['reset role', 'reset search_path', 'discard temp', 'close all', 'unlisten *', `select ${select.join(', ')}`];
  return { sql: statements.join(';\n'), results: statements.length };
}


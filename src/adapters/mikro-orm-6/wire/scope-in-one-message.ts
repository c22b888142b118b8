import type { Knex } from '@mikro-orm/knex';
import { statusAfterFailure } from './bounded-settle';
import { trackConnection, transactionStatus, type PooledConnection } from './connection-state';
import { RlsScopeEscapeError } from './rls-scope-escape-error';
import { needsSessionReset } from './session-reset';
import { sendsSessionReset } from './unscoped-work';
import { withoutScopeResult, withoutTrailingResults, type ScopeSql } from '../../../core/scope/rls-scope';
import { redactScopeStatement } from './error-redaction';


/** knex's client API for running one statement on a connection the caller holds. */
interface KnexClient {
  acquireConnection(): Promise<PooledConnection>;
  releaseConnection(connection: PooledConnection): Promise<unknown>;
  query(connection: PooledConnection, query: { sql: string; bindings: unknown[] }): Promise<{ response?: unknown }>;
}

/** What node-postgres reports for a message without statements; a fresh object each time (callers may mutate it). */
export const emptyPgResult = () => ({ command: null, rowCount: null, rows: [], fields: [] });

/**
 * Runs the caller's SQL (values already written in) behind the scope statement, in one message: one
 * round trip, and PostgreSQL runs a multi-statement message as one implicit transaction, so the
 * `set_config(..., true)` holds for the caller's statements and ends with them.
 *
 * The connection is held across the message so that, before it goes back to the pool, its state can be
 * checked: SQL that opens a transaction (`BEGIN`) would pull the scope into it and keep it after the
 * message. Such a connection is rolled back and the call refused.
 */
export async function runBehindScope(knex: Knex, scope: ScopeSql, callerSql: string): Promise<unknown> {
  const client = knex.client as unknown as KnexClient;
  const connection = await client.acquireConnection();
  trackConnection(connection);
  try {
    let response: unknown;
    let failure: unknown;
    try {
      const sql = `${scope.literal};\n${callerSql}\n;\n${scope.reset.sql}`;
      sendsSessionReset(connection, sql);
      ({ response } = await client.query(connection, { sql, bindings: [] }));
    } catch (error) {
      failure = error;
    }
    const status = failure ? await statusAfterFailure(connection) : transactionStatus(connection);
    if (status === 'busy') {
      // The client gave up on the message (a timeout); the server still runs it. Nothing can be sent
      // behind it now; the pool guard destroys the connection, or resets it should it become idle first.
      needsSessionReset(connection, scope.reset);
    } else if (status === 'T' || status === 'E') {
      // The reset behind the caller's SQL ran inside the transaction it opened, if at all; what a raw
      // COMMIT before it made permanent (`set role x; commit; begin`) survives the ROLLBACK.
      const sql = `ROLLBACK;\n${scope.reset.sql}`;
      sendsSessionReset(connection, sql);
      await client.query(connection, { sql, bindings: [] });
      if (!failure) throw new RlsScopeEscapeError(callerSql);
    } else if (failure) {
      // The statements after the failing one, the reset among them, never ran; had the caller's SQL
      // committed first, its session-level changes would stay. Reset before the next user gets it.
      needsSessionReset(connection, scope.reset);
    }
    if (failure) redactScopeStatement(failure, scope);
    return withoutScopeResult(withoutTrailingResults(response, scope.reset.results), 1, emptyPgResult());
  } finally {
    await client.releaseConnection(connection);
  }
}

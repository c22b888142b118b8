import { sessionReset } from '../../../core/scope/session-reset-sql';
import { sendsSessionReset } from './unscoped-work';

// The statements themselves are the same on every major (core/scope/session-reset-sql.ts).
export { sessionReset };

/** The node-postgres client members a pending reset needs. */
interface ResettableConnection {
  query(sql: string): Promise<unknown>;
}

// Connections whose session may still carry what a scope's raw SQL changed for good, because the reset
// that travels behind the scope's work did not run or did not stick: the work failed after a raw COMMIT
// (`set role x; commit; select 1/0`), or the reset ran inside a transaction that was then rolled back.
const PENDING_RESETS = new WeakMap<object, string>();

/** Marks `connection` to be reset before anyone gets it from the pool again (see {@link settleSessionReset}). */
export function needsSessionReset(connection: object, reset: { readonly sql: string }): void {
  PENDING_RESETS.set(connection, reset.sql);
}

/**
 * Runs a pending reset on an idle connection, in a round trip of its own: only after a scoped message or
 * transaction that failed, never on the normal path. `false` when the reset failed, so the pool destroys
 * the connection instead of handing it out.
 */
export async function settleSessionReset(connection: ResettableConnection): Promise<boolean> {
  const sql = PENDING_RESETS.get(connection);
  if (sql === undefined) return true;
  try {
    sendsSessionReset(connection, sql);
    await connection.query(sql);
  } catch {
    // Safe to swallow: the connection is reported unusable, and the pool destroys it.
    return false;
  }
  PENDING_RESETS.delete(connection);
  return true;
}

import type { Queryable } from './queryable';

/** The server settings that size PostgreSQL's shared lock table. */
export interface LockTableSettings {
  readonly maxLocksPerTransaction: number;
  readonly maxConnections: number;
  readonly maxPreparedTransactions: number;
}

// The share of the lock table one transaction of createPolicies may fill: a quarter leaves three
// quarters to every other session, which rarely need it (PostgreSQL keeps a session's first weak
// table locks out of the shared table).
const SHARE = 4;

/**
 * How many objects (tables, policies) one transaction may lock without risking `out of shared memory`:
 * PostgreSQL's shared lock table holds `max_locks_per_transaction × (max_connections +
 * max_prepared_transactions)` of them for all sessions together, and a quarter of that is taken here,
 * shared by the `transactionsAtOnce` transactions that run side by side; never less than
 * `max_locks_per_transaction`, what every session may count on.
 *
 * @example
 * lockBudget({ maxLocksPerTransaction: 64, maxConnections: 100, maxPreparedTransactions: 0 }); // 1600, PostgreSQL's defaults
 * lockBudget({ maxLocksPerTransaction: 64, maxConnections: 100, maxPreparedTransactions: 0 }, 2); // 800 for each of two
 */
export function lockBudget(settings: LockTableSettings, transactionsAtOnce = 1): number {
  const table = settings.maxLocksPerTransaction * (settings.maxConnections + settings.maxPreparedTransactions);
  return Math.max(settings.maxLocksPerTransaction, Math.floor(table / (SHARE * transactionsAtOnce)));
}

/** The lock table settings of the server `db` is connected to. */
export async function readLockTableSettings(db: Queryable): Promise<LockTableSettings> {
  const [row] = await db.query<{ locks: string; connections: string; prepared: string }>(
    `select current_setting('max_locks_per_transaction') as locks, current_setting('max_connections') as connections,
            current_setting('max_prepared_transactions') as prepared`,
  );
  return { maxLocksPerTransaction: Number(row.locks), maxConnections: Number(row.connections), maxPreparedTransactions: Number(row.prepared) };
}

import { CompiledQuery, type DatabaseConnection } from 'kysely';
import { sessionResetOf } from '../../../core/settings/session-reset-of';
import type { RlsSettings } from '../../../core/settings/rls-settings';
import { runHookOnLease } from '../wire/connection-leases';

type ConnectionHook = (connection: DatabaseConnection, ...rest: unknown[]) => Promise<void>;

/** The hooks made here, so options guarded once are not wrapped twice. */
const GUARDED = new WeakSet<ConnectionHook>();

/**
 * The application's `onCreateConnection` (MikroORM 7 hands it to Kysely, which runs it on each new
 * connection after pg-pool has handed the connection out, right before its first user's statement),
 * on a lease of the connection that ends with the hook (see wire/connection-leases.ts), followed by the
 * session reset: what the hook set within the reset's reach (`SET ROLE`, search_path, context
 * variables, temporary tables) would otherwise reach that first statement, scoped or not, while every
 * later user of the connection gets it reset. One round trip per new connection, only when the
 * application has such a hook.
 */
export function resetAfterOnCreateConnection(hook: unknown, settings: RlsSettings): unknown {
  if (typeof hook !== 'function' || GUARDED.has(hook as ConnectionHook)) return hook;
  // The reset runs on the hook's lease, so that its failure (the hook left an aborted transaction, the
  // backend died) destroys the connection as the hook's own would: Kysely releases it neither way.
  const hookThenReset: ConnectionHook = async (lease, ...rest) => {
    await (hook as ConnectionHook)(lease, ...rest);
    await lease.executeQuery(CompiledQuery.raw(sessionResetOf(settings).sql));
  };
  const guarded: ConnectionHook = (connection, ...rest) => runHookOnLease(hookThenReset, connection, rest);
  GUARDED.add(guarded);
  return guarded;
}

/**
 * The application's `onReserveConnection` (run on every hand-out of a connection), on a lease of the
 * connection that ends with the hook. What its SQL sets within the session reset's reach is reset in
 * front of the scope of the statement it reserved for, in the same message (see rls-pg-client.ts).
 */
export function leasedOnReserveConnection(hook: unknown): unknown {
  if (typeof hook !== 'function' || GUARDED.has(hook as ConnectionHook)) return hook;
  const guarded: ConnectionHook = (connection, ...rest) => runHookOnLease(hook as ConnectionHook, connection, rest);
  GUARDED.add(guarded);
  return guarded;
}

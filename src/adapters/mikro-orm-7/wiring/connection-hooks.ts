import { CompiledQuery, type DatabaseConnection } from 'kysely';
import { sessionResetOf } from '../../../core/settings/session-reset-of';
import type { RlsSettings } from '../../../core/settings/rls-settings';

type OnCreateConnection = (connection: DatabaseConnection) => Promise<void>;

/** The hooks made here, so options guarded once are not wrapped twice. */
const GUARDED = new WeakSet<OnCreateConnection>();

/**
 * The application's `onCreateConnection` (MikroORM 7 hands it to Kysely, which runs it on each new
 * connection after pg-pool has handed the connection out, right before its first user's statement),
 * followed by the session reset: what the hook set within the reset's reach (`SET ROLE`, search_path,
 * context variables, temporary tables) would otherwise reach that first statement, scoped or not, while
 * every later user of the connection gets it reset. One round trip per new connection, only when the
 * application has such a hook.
 */
export function resetAfterOnCreateConnection(hook: unknown, settings: RlsSettings): unknown {
  if (typeof hook !== 'function' || GUARDED.has(hook as OnCreateConnection)) return hook;
  const guarded: OnCreateConnection = async (connection) => {
    await (hook as OnCreateConnection)(connection);
    await connection.executeQuery(CompiledQuery.raw(sessionResetOf(settings).sql));
  };
  GUARDED.add(guarded);
  return guarded;
}

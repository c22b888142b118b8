import type { AbstractSqlConnection } from '@mikro-orm/sql';
import { roleChecked as checkedOnce, ROLE_CHECK_SQL, SESSION_ROLE_CHECK_SQL, type RoleRow } from '../../../core/role/role-check';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';

/**
 * Resolves once the role `connection` (the shared one, never a scoped view) connects as is known to be
 * subject to row-level security (see core/role/role-check.ts); checked once per pool, keyed by the pg
 * Pool, which `orm.reconnect()` builds anew.
 */
export async function roleChecked(connection: AbstractSqlConnection): Promise<void> {
  const settings = rlsSettingsOf(connection.getPlatform().getConfig());
  const pool = await (connection as unknown as { getNativeClient(): Promise<object> }).getNativeClient();
  await checkedOnce({
    pool,
    strict: settings.strict,
    tables: settings.entityTables,
    bypassRole: settings.bypassRole,
    read: async (params) => {
      const trx = await connection.begin();
      try {
        const [current] = await connection.execute<RoleRow[]>(ROLE_CHECK_SQL, [...params], 'all', trx);
        await connection.execute('reset session authorization', [], 'run', trx);
        await connection.execute('reset role', [], 'run', trx);
        const [session] = await connection.execute<RoleRow[]>(SESSION_ROLE_CHECK_SQL, [...params], 'all', trx);
        return [current, session];
      } finally {
        await connection.rollback(trx); // undoes both resets
      }
    },
    // pg's message is the server's alone (Kysely does not prefix the statement).
    reasonOf: (error) => String((error as Error).message),
  });
}

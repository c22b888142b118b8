import type { AbstractSqlConnection } from '@mikro-orm/knex';
import { roleChecked as checkedOnce, ROLE_CHECK_SQL, SESSION_ROLE_CHECK_SQL, type RoleRow } from '../../../core/role/role-check';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';

const SQL_END = 'current_user';

/**
 * Resolves once the role `connection` connects as is known to be subject to row-level security (see
 * core/role/role-check.ts); checked once per pool, keyed by the pool's knex client, which
 * `orm.reconnect()` builds anew.
 */
export function roleChecked(connection: AbstractSqlConnection): true | Promise<void> {
  const settings = rlsSettingsOf(connection.getPlatform().getConfig());
  return checkedOnce({
    pool: connection.getKnex().client as object,
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
    // knex starts the message with the statement; the reason is what follows it.
    reasonOf: (error) => {
      const message = String((error as Error).message);
      return message.includes(`${SQL_END} - `) ? message.slice(message.lastIndexOf(`${SQL_END} - `) + SQL_END.length + 3) : message;
    },
  });
}

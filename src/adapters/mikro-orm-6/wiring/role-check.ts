import type { AbstractSqlConnection } from '@mikro-orm/knex';
import { qualifiedTable, tableLabel, type TableRef } from '../../../core/ddl/quote';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';

interface RoleRow {
  role: string;
  superuser: boolean;
  bypass: boolean;
  /** RLS tables of the ORM without FORCE whose owner's privileges the role has. */
  owned: { schema: string; name: string; owner: string }[];
}

// Run twice per pool for the life of the ORM (see roleRows: five statements in a transaction it rolls
// back, on the first scoped query only). The comment names it in query logs. `pg_has_role(..., 'USAGE')` is true for the owner and for every member that
// inherits the owner's privileges: PostgreSQL skips the policies for both unless the table has FORCE.
const ROLE_CHECK_SQL = `/* mikro-orm-rls role check */ select r.rolname as role, r.rolsuper as superuser, r.rolbypassrls as bypass,
  coalesce((select json_agg(json_build_object('schema', n.nspname, 'name', c.relname, 'owner', pg_get_userbyid(c.relowner)) order by n.nspname, c.relname)
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    join json_array_elements(cast(? as json)) t on t->>0 = n.nspname and t->>1 = c.relname
    where c.relrowsecurity and not c.relforcerowsecurity and pg_has_role(r.oid, c.relowner, 'USAGE')), '[]') as owned
  from pg_roles r where r.rolname = current_user`;
const SQL_END = 'current_user';

/** What is wrong with the role, one phrase per problem; empty when RLS applies to it. */
function problemsOf(row: RoleRow): string[] {
  const problems: string[] = [];
  if (row.superuser) problems.push('is a superuser');
  if (row.bypass) problems.push('has BYPASSRLS');
  for (const table of row.owned) {
    const through = table.owner === row.role ? '' : ` (through its membership in "${table.owner}")`;
    problems.push(
      `owns ${tableLabel(table)}${through}, which has row-level security without FORCE ROW LEVEL SECURITY ` +
        `(fix: ALTER TABLE ${qualifiedTable(table)} FORCE ROW LEVEL SECURITY, or let a role it is no member of own the table)`,
    );
  }
  return problems;
}

// The same check for the role `RESET ROLE` (and `RESET SESSION AUTHORIZATION`) returns to, which the
// session reset after every scoped message and transaction runs: a login that switches to the
// application role (`SET ROLE` in a pool's afterCreate) passes the first check but is back to the login
// role after the first scoped message.
const SESSION_ROLE_CHECK_SQL = ROLE_CHECK_SQL.replace('/* mikro-orm-rls role check */', '/* mikro-orm-rls session role */');

/** The role row, as the connection is now and as `RESET ROLE` leaves it, in a transaction that changes nothing. */
async function roleRows(connection: AbstractSqlConnection, tables: readonly TableRef[]): Promise<[RoleRow | undefined, RoleRow | undefined]> {
  const params = [JSON.stringify(tables.map((t) => [t.schema, t.name]))];
  const trx = await connection.begin();
  try {
    const [current] = await connection.execute<RoleRow[]>(ROLE_CHECK_SQL, params, 'all', trx);
    // What the session reset (RESET ROLE) and raw SQL (RESET SESSION AUTHORIZATION) can return to: a login
    // that switched with SET SESSION AUTHORIZATION passes as its new session user otherwise (found by the
    // ninth review). A role the login's session starts with (`-c role=`) stays: RESET ROLE returns to it.
    await connection.execute('reset session authorization', [], 'run', trx);
    await connection.execute('reset role', [], 'run', trx);
    const [session] = await connection.execute<RoleRow[]>(SESSION_ROLE_CHECK_SQL, params, 'all', trx);
    return [current, session];
  } finally {
    await connection.rollback(trx); // undoes both resets
  }
}

async function checkRole(connection: AbstractSqlConnection, tables: readonly TableRef[]): Promise<void> {
  let row: RoleRow | undefined;
  let session: RoleRow | undefined;
  try {
    [row, session] = await roleRows(connection, tables);
  } catch (error) {
    // knex starts the message with the statement; the reason is what follows it.
    const message = String((error as Error).message);
    const reason = message.includes(`${SQL_END} - `) ? message.slice(message.lastIndexOf(`${SQL_END} - `) + SQL_END.length + 3) : message;
    throw new RlsConfigurationError(
      `mikro-orm-rls could not check the role this ORM connects as, so it runs no scoped query: ${reason}. ` +
        'The check needs to read pg_roles and pg_class; fix what the error says, or pass withRls(..., { strict: false }) to skip the check.',
      { cause: error },
    );
  }
  if (session && row && session.role !== row.role) {
    const problems = problemsOf(session);
    if (problems.length > 0) {
      throw new RlsConfigurationError(
        `mikro-orm-rls refuses to run scoped queries: the ORM's connections are set to the role "${row.role}", but RESET ROLE and ` +
          `RESET SESSION AUTHORIZATION (the first runs after every scoped message; raw SQL can run either) return them to "${session.role}", ` +
          `which ${problems.join('; and ')}. Log in as the application role itself (or make it the session default with the connection ` +
          'option -c role=<application role>) instead of switching to it with SET ROLE or SET SESSION AUTHORIZATION.',
      );
    }
  }
  if (!row) throw new RlsConfigurationError('mikro-orm-rls could not check the role this ORM connects as: pg_roles has no row for current_user.');
  const problems = problemsOf(row);
  if (problems.length === 0) return;
  throw new RlsConfigurationError(
    `mikro-orm-rls refuses to run scoped queries: the ORM connects as "${row.role}", which ${problems.join('; and ')}. ` +
      'Row-level security does not apply to such a role, so every fork would see and change every row. ' +
      "Connect as the application role (NOSUPERUSER NOBYPASSRLS, owning no table; see the README's security model). " +
      'If running unisolated is deliberate (a test, a maintenance script), pass withRls(..., { strict: false }).',
  );
}

// Per pool (the primary and each read replica have their own, and may connect as another role), keyed
// by the pool's knex client: `orm.reconnect()` (new credentials, a new clientUrl, options set with
// orm.config.set) builds a new one, logged in as whoever it now says, which is checked again. Keyed by
// MikroORM's connection object, which survives a reconnect, a superuser login after a reconnect ran
// scoped queries unchecked (found by the seventh review). `true` once the role passed; a pending check
// is shared by concurrent first queries. A failed or refused check is forgotten, so the next scoped
// query checks again (after the fix).
const CHECKED = new WeakMap<object, true | Promise<void>>();

/**
 * Resolves once the role `connection` connects as is known to be subject to row-level security;
 * rejects with {@link RlsConfigurationError} when it is not (a superuser, BYPASSRLS, or with the
 * privileges of the owner of an RLS table of the ORM that lacks FORCE). Checks at most once per
 * pool; skipped with `strict: false`. Every scoped query waits for it before it is sent.
 */
export function roleChecked(connection: AbstractSqlConnection): true | Promise<void> {
  const pool = connection.getKnex().client as object;
  const state = CHECKED.get(pool);
  if (state) return state;
  const settings = rlsSettingsOf(connection.getPlatform().getConfig());
  if (!settings.strict) {
    CHECKED.set(pool, true);
    return true;
  }
  const check = checkRole(connection, settings.entityTables).then(
    () => void CHECKED.set(pool, true),
    (error: unknown) => {
      CHECKED.delete(pool);
      throw error;
    },
  );
  CHECKED.set(pool, check);
  return check;
}

import { qualifiedTable, quoteIdent, tableLabel, type TableRef } from '../ddl/quote';
import { RlsConfigurationError } from '../errors/rls-configuration-error';

/** What the role check reads about a role. */
export interface RoleRow {
  role: string;
  superuser: boolean;
  bypass: boolean;
  /** RLS tables of the ORM without FORCE whose owner's privileges the role has. */
  owned: { schema: string; name: string; owner: string }[];
  /** withRls's bypassRole as pg_roles has it, null when there is no such role (or none is configured). */
  bypass_role: { member: boolean; bypass: boolean } | null;
}

// Run twice per pool for the life of the ORM (five statements in a transaction the adapter rolls back,
// on the first scoped query only). The comment names it in query logs. `pg_has_role(..., 'USAGE')` is
// true for the owner and for every member that inherits the owner's privileges: PostgreSQL skips the
// policies for both unless the table has FORCE. The parameters: the tables, as JSON; withRls's bypassRole
// (null without one), which bypassRls() will SET ROLE to, so a typo is found here and not at the first one.
export const ROLE_CHECK_SQL = `/* mikro-orm-rls role check */ select r.rolname as role, r.rolsuper as superuser, r.rolbypassrls as bypass,
  coalesce((select json_agg(json_build_object('schema', n.nspname, 'name', c.relname, 'owner', pg_get_userbyid(c.relowner)) order by n.nspname, c.relname)
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    join json_array_elements(cast(? as json)) t on t->>0 = n.nspname and t->>1 = c.relname
    where c.relrowsecurity and not c.relforcerowsecurity and pg_has_role(r.oid, c.relowner, 'USAGE')), '[]') as owned,
  (select json_build_object('member', pg_has_role(r.oid, b.oid, 'MEMBER'), 'bypass', b.rolbypassrls) from pg_roles b where b.rolname = ?) as bypass_role
  from pg_roles r where r.rolname = current_user`;

// The same check for the role `RESET ROLE` (and `RESET SESSION AUTHORIZATION`) returns to, which the
// session reset after every scoped message and transaction runs: a login that switches to the
// application role (`SET ROLE` in a pool hook) passes the first check but is back to the login role
// after the first scoped message.
export const SESSION_ROLE_CHECK_SQL = ROLE_CHECK_SQL.replace('/* mikro-orm-rls role check */', '/* mikro-orm-rls session role */');

/**
 * Reads the role rows in one transaction that changes nothing: `ROLE_CHECK_SQL`, then `reset session
 * authorization` and `reset role`, then `SESSION_ROLE_CHECK_SQL`, then ROLLBACK (which undoes both
 * resets). What a login that switched with SET SESSION AUTHORIZATION returns to counts too (found by the
 * ninth review); a role the session starts with (`-c role=`) stays: RESET ROLE returns to it.
 */
export type ReadRoleRows = (params: readonly (string | null)[]) => Promise<[RoleRow | undefined, RoleRow | undefined]>;

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

// "is a superuser and has BYPASSRLS"; three or more take semicolons, since an owned table's phrase has
// commas of its own.
function listOfProblems(problems: readonly string[]): string {
  if (problems.length <= 2) return problems.join(' and ');
  return `${problems.slice(0, -1).join('; ')}; and ${problems[problems.length - 1]}`;
}

/** What stops bypassRls() from switching to `bypassRole`, with the SQL that fixes it. */
function bypassRoleProblem(row: RoleRow, bypassRole: string): string | undefined {
  const role = quoteIdent(bypassRole);
  if (!row.bypass_role) return `withRls's bypassRole "${bypassRole}" is not a role of this server. Create it (CREATE ROLE ${role} NOLOGIN BYPASSRLS; GRANT ${role} TO ${quoteIdent(row.role)};) or fix the name in withRls(..., { bypassRole }).`;
  if (!row.bypass_role.member) return `the ORM connects as "${row.role}", which is not a member of withRls's bypassRole "${bypassRole}", so bypassRls() cannot switch to it. Run GRANT ${role} TO ${quoteIdent(row.role)};`;
  if (!row.bypass_role.bypass) return `withRls's bypassRole "${bypassRole}" lacks BYPASSRLS, so bypassRls() would still see only what the policies allow. Run ALTER ROLE ${role} BYPASSRLS; (as a superuser).`;
  return undefined;
}

async function checkRole(read: ReadRoleRows, tables: readonly TableRef[], reasonOf: (error: unknown) => string, bypassRole: string | undefined): Promise<void> {
  let row: RoleRow | undefined;
  let session: RoleRow | undefined;
  try {
    [row, session] = await read([JSON.stringify(tables.map((t) => [t.schema, t.name])), bypassRole ?? null]);
  } catch (error) {
    throw new RlsConfigurationError(
      `mikro-orm-rls could not check the role this ORM connects as, so it runs no scoped query: ${reasonOf(error)}. ` +
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
          `which ${listOfProblems(problems)}. Log in as the application role itself (or make it the session default with the connection ` +
          'option -c role=<application role>) instead of switching to it with SET ROLE or SET SESSION AUTHORIZATION.',
      );
    }
  }
  if (!row) throw new RlsConfigurationError('mikro-orm-rls could not check the role this ORM connects as: pg_roles has no row for current_user.');
  const problems = problemsOf(row);
  if (problems.length === 0) {
    const bypassProblem = bypassRole === undefined ? undefined : bypassRoleProblem(row, bypassRole);
    if (bypassProblem) throw new RlsConfigurationError(`mikro-orm-rls refuses to run scoped queries: ${bypassProblem}`);
    return;
  }
  throw new RlsConfigurationError(
    `mikro-orm-rls refuses to run scoped queries: the ORM connects as "${row.role}", which ${listOfProblems(problems)}. ` +
      'Row-level security does not apply to such a role, so every fork would see and change every row. ' +
      "Connect as the application role (NOSUPERUSER NOBYPASSRLS, owning no table; see the README's security model). " +
      'If running unisolated is deliberate (a test, a maintenance script), pass withRls(..., { strict: false }).',
  );
}

// Per pool (the primary and each read replica have their own, and may connect as another role), keyed
// by an object that lives as long as the pool: a reconnect (new credentials, a new clientUrl) builds a
// new one, logged in as whoever it now says, which is checked again (keyed by MikroORM's connection,
// which survives a reconnect, a superuser login after a reconnect ran scoped queries unchecked: found
// by the seventh review). `true` once the role passed; a pending check is shared by concurrent first
// queries. A failed or refused check is forgotten, so the next scoped query checks again (after the fix).
const CHECKED = new WeakMap<object, true | Promise<void>>();

export interface RoleCheck {
  /** Lives exactly as long as the pool. */
  readonly pool: object;
  readonly strict: boolean;
  readonly tables: readonly TableRef[];
  /** withRls's bypassRole, checked with the role: it exists, the role is a member, it has BYPASSRLS. */
  readonly bypassRole?: string;
  readonly read: ReadRoleRows;
  /** The reason a failed check gives, from the driver's error. */
  readonly reasonOf: (error: unknown) => string;
}

/**
 * Resolves once the role the pool connects as is known to be subject to row-level security; rejects
 * with {@link RlsConfigurationError} when it is not (a superuser, BYPASSRLS, or with the privileges of
 * the owner of an RLS table of the ORM that lacks FORCE). Checks at most once per pool; skipped with
 * `strict: false`. Every scoped query waits for it before it is sent.
 */
export function roleChecked(check: RoleCheck): true | Promise<void> {
  const state = CHECKED.get(check.pool);
  if (state) return state;
  if (!check.strict) {
    CHECKED.set(check.pool, true);
    return true;
  }
  const pending = checkRole(check.read, check.tables, check.reasonOf, check.bypassRole).then(
    () => void CHECKED.set(check.pool, true),
    (error: unknown) => {
      CHECKED.delete(check.pool);
      throw error;
    },
  );
  CHECKED.set(check.pool, pending);
  return pending;
}

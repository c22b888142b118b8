import type { Queryable } from '../catalog/queryable';
import { tableLabel, type TableRef } from '../ddl/quote';

/**
 * The database and role an audit ran as: what its findings about "the application role" describe.
 *
 * @example
 * const { target } = await auditRlsReport(orm);
 * if (target.superuser || target.bypassRls) console.warn(`audited as ${target.role}, to whom RLS never applies`);
 */
export interface AuditTarget {
  readonly database: string;
  /** The role in force (`current_user`), whose privileges the findings describe. */
  readonly role: string;
  readonly superuser: boolean;
  /** The role has BYPASSRLS. */
  readonly bypassRls: boolean;
  /**
   * Audited tables whose owner's privileges the role has (it owns them, or is a member of their owner):
   * it may turn their row level security off. Empty for a superuser, who has every privilege anyway.
   */
  readonly ownedTables: readonly TableRef[];
  /** The role the connection logged in as (`session_user`), whose defaults `roleDefaults` are. */
  readonly sessionRole: string;
  /**
   * Role-level defaults of the session's role that decide what RLS sees (`role`, `search_path`), as
   * `name=value`, with the database they are set in (`null`: every database).
   */
  readonly roleDefaults: readonly { setting: string; database: string | null }[];
}

/** How to run the audit as another role: MikroORM's own environment variables override the config's. */
export const AUDIT_AS_APPLICATION_ROLE =
  'MIKRO_ORM_USER=<application role> MIKRO_ORM_PASSWORD=<its password> npx mikro-orm-rls audit ' +
  '(or MIKRO_ORM_CLIENT_URL=postgres://<application role>@<host>/<database>)';

/** Reads who the audit connects as, and which of `tables` that role owns. */
export async function readAuditTarget(db: Queryable, tables: readonly TableRef[]): Promise<AuditTarget> {
  const [row] = await db.query<{
    database: string;
    role: string;
    session_role: string;
    superuser: boolean;
    bypass: boolean;
    owned: TableRef[] | null;
    defaults: { setting: string; database: string | null }[] | null;
  }>(
    `select current_database() as database, r.rolname as role, session_user as session_role, r.rolsuper as superuser, r.rolbypassrls as bypass,
       (select json_agg(json_build_object('schema', n.nspname, 'name', c.relname) order by n.nspname, c.relname)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where not r.rolsuper and pg_has_role(r.oid, c.relowner, 'USAGE')
          and (n.nspname, c.relname) in (select * from unnest($1::text[], $2::text[]))) as owned,
       (select json_agg(json_build_object('setting', s.setting, 'database', d.datname) order by s.setting)
        from pg_db_role_setting rs cross join unnest(rs.setconfig) as s(setting)
        left join pg_database d on d.oid = rs.setdatabase
        where rs.setrole = (select oid from pg_roles where rolname = session_user)
          and rs.setdatabase in (0, (select oid from pg_database where datname = current_database()))
          and split_part(s.setting, '=', 1) in ('role', 'search_path')) as defaults
     from pg_roles r where r.rolname = current_user`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return { database: row.database, role: row.role, superuser: row.superuser, bypassRls: row.bypass, ownedTables: row.owned ?? [], sessionRole: row.session_role, roleDefaults: row.defaults ?? [] };
}

/** Why row level security does not apply to the role as it applies to a plain application role; empty when it does. */
export function privilegesOf(target: AuditTarget): string[] {
  const privileges: string[] = [];
  if (target.superuser) privileges.push('it is a superuser (row level security never applies to it)');
  if (target.bypassRls && !target.superuser) privileges.push('it has BYPASSRLS (row level security never applies to it)');
  if (target.ownedTables.length > 0) {
    const shown = target.ownedTables.slice(0, 3).map(tableLabel).join(', ');
    const more = target.ownedTables.length > 3 ? ` and ${target.ownedTables.length - 3} more` : '';
    privileges.push(`it owns ${shown}${more} (an owner can switch their row level security off)`);
  }
  return privileges;
}

/**
 * The first lines of an audit: the database and role checked, and, when that role is not a plain
 * application role, that the audit does not show what the application's role can do, and how to check it.
 *
 * @example
 * const report = await auditRlsReport(orm);
 * for (const line of describeAuditTarget(report.target)) console.log(line);
 * // mikro-orm-rls audit of database "shop" as role "app_user", a plain application role (not a superuser, no BYPASSRLS, owns none of the audited tables).
 */
export function describeAuditTarget(target: AuditTarget): string[] {
  const head = `mikro-orm-rls audit of database "${target.database}" as role "${target.role}"`;
  const privileges = privilegesOf(target);
  if (privileges.length === 0) {
    return [`${head}, a plain application role (not a superuser, no BYPASSRLS, owns none of the audited tables).`];
  }
  return [
    `${head}, which is not a plain application role: ${privileges.join('; ')}.`,
    `  The findings describe "${target.role}". If your application connects as another role, audit that role by connecting as it: ${AUDIT_AS_APPLICATION_ROLE}.`,
  ];
}

import type { Command } from '../policy/command';
import type { PolicySpec } from '../ddl/policy-spec';
import { isManagedComment } from '../ddl/statements';
import type { TableRef } from '../ddl/quote';
import type { Queryable } from './queryable';

/** A policy as PostgreSQL stores it, with whether this package created it. */
export interface LivePolicy extends PolicySpec {
  readonly managed: boolean;
  /** Its comment, when read from the catalog (a snapshot does not record it). */
  readonly comment?: string | null;
}

export interface LiveTableState {
  readonly table: TableRef;
  readonly enabled: boolean;
  readonly forced: boolean;
  readonly policies: readonly LivePolicy[];
}

/** A policy's command from pg_policy.polcmd (`r`, `a`, `w`, `d`, `*`). */
export const POLCMD_COMMANDS: Readonly<Record<string, Command>> = { r: 'select', a: 'insert', w: 'update', d: 'delete', '*': 'all' };

interface PolicyRow {
  schema: string;
  table: string;
  name: string;
  permissive: boolean;
  cmd: string;
  roles: string[];
  using: string | null;
  with_check: string | null;
  comment: string | null;
}

interface TableRow {
  schema: string;
  table: string;
  enabled: boolean;
  forced: boolean;
}

const TABLES_SQL = `
  select n.nspname as schema, c.relname as table, c.relrowsecurity as enabled, c.relforcerowsecurity as forced
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p')
    and (n.nspname, c.relname) in (select * from unnest($1::text[], $2::text[]))
  order by 1, 2`;

// A policy's comment, as obj_description(p.oid, 'pg_policy') reads it, but joined: the function runs a
// query of its own per row, which made it four fifths of this read at 1,000 tables (EXPLAIN ANALYZE).
export const POLICY_COMMENT = `lateral (select description from pg_catalog.pg_description
  where objoid = p.oid and classoid = 'pg_catalog.pg_policy'::pg_catalog.regclass and objsubid = 0) d`;

const policiesSql = (using: string, withCheck: string) => `
  select n.nspname as schema, c.relname as table, p.polname as name, p.polpermissive as permissive,
         p.polcmd::text as cmd,
         case when 0 = any(p.polroles) then array['public']::text[]
              else array(select r.rolname::text from pg_roles r where r.oid = any(p.polroles) order by 1) end as roles,
         ${using} as using,
         ${withCheck} as with_check,
         d.description as comment
  from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
  left join ${POLICY_COMMENT} on true
  where (n.nspname, c.relname) in (select * from unnest($1::text[], $2::text[]))
  order by 1, 2, 3`;
const POLICIES_SQL = policiesSql('pg_get_expr(p.polqual, p.polrelid)', 'pg_get_expr(p.polwithcheck, p.polrelid)');
// Without the expressions, which PostgreSQL must decompile (a relation opened, its node trees printed).
const POLICY_NAMES_SQL = policiesSql('null::text', 'null::text');

const key = (t: TableRef) => `${t.schema}\u0000${t.name}`;

/**
 * Reads the live RLS state (flags and policies) of those of the given tables that exist. With
 * `manageAll`, every policy counts as managed, hand-written ones included (the user opted in). With
 * `expressions: false`, the policies' USING and WITH CHECK read as null: only what they are, not what
 * they say (much cheaper on thousands of policies).
 */
export async function readLiveState(
  db: Queryable,
  tables: readonly TableRef[],
  options: { manageAll?: boolean; expressions?: boolean } = {},
): Promise<LiveTableState[]> {
  const tableRows = await db.query<TableRow>(TABLES_SQL, [
    tables.map((t) => t.schema),
    tables.map((t) => t.name),
  ]);
  if (tableRows.length === 0) return [];
  const policyRows = await db.query<PolicyRow>(options.expressions === false ? POLICY_NAMES_SQL : POLICIES_SQL, [tableRows.map((t) => t.schema), tableRows.map((t) => t.table)]);
  const byTable = new Map<string, LivePolicy[]>();
  for (const row of policyRows) {
    const list = byTable.get(key({ schema: row.schema, name: row.table })) ?? [];
    list.push({
      name: row.name,
      permissive: row.permissive,
      command: POLCMD_COMMANDS[row.cmd],
      roles: row.roles,
      using: row.using,
      withCheck: row.with_check,
      managed: options.manageAll === true || isManagedComment(row.comment),
      comment: row.comment,
    });
    byTable.set(key({ schema: row.schema, name: row.table }), list);
  }
  return tableRows.map((row) => {
    const table = { schema: row.schema, name: row.table };
    return { table, enabled: row.enabled, forced: row.forced, policies: byTable.get(key(table)) ?? [] };
  });
}

/** Which of the given tables do not exist (yet). */
export async function findMissingTables(db: Queryable, tables: readonly TableRef[]): Promise<TableRef[]> {
  const rows = await db.query<{ schema: string; table: string }>(
    `select s.schema, s.table from unnest($1::text[], $2::text[]) as s(schema, "table")
     where to_regclass(quote_ident(s.schema) || '.' || quote_ident(s.table)) is null`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return rows.map((r) => ({ schema: r.schema, name: r.table }));
}

import type { Queryable } from '../catalog/queryable';
import { tableLabel, type TableRef } from '../ddl/quote';
import type { AuditFinding } from './audit-finding';

// One row per foreign key declared on a table (conparentid = 0: not the copies PostgreSQL makes for each
// partition), from a table or partitioned table without row level security to one with it. Partitions
// are left out: theirs is the partitions check.
const REFERENCES_SQL = `
  select rn.nspname as schema, r.relname as table,
         array_agg(distinct tn.nspname || '.' || t.relname order by tn.nspname || '.' || t.relname) as referenced
  from pg_constraint k
  join pg_class r on r.oid = k.conrelid join pg_namespace rn on rn.oid = r.relnamespace
  join pg_class t on t.oid = k.confrelid join pg_namespace tn on tn.oid = t.relnamespace
  where k.contype = 'f' and k.conparentid = 0 and t.relrowsecurity and not r.relrowsecurity
    and r.relkind in ('r', 'p') and not r.relispartition
    and rn.nspname not in ('pg_catalog', 'information_schema')
  group by 1, 2
  order by 1, 2`;

const isIn = (list: readonly TableRef[], schema: string, name: string) => list.some((t) => t.schema === schema && t.name === name);

/**
 * Tables without row level security that reference a table with it: pivot and join tables, audit logs.
 * Their rows tell which hidden rows exist and how they are linked, and writes to them are not checked.
 * Tables that declare policies are left out (their missing RLS is `table-rls-disabled`), and so are pivot
 * tables opted out on purpose with `rls.pivotTables`.
 */
export async function unprotectedReferenceFindings(
  db: Queryable,
  exempt: { declared: readonly TableRef[]; optedOutPivots: readonly TableRef[] },
): Promise<AuditFinding[]> {
  const rows = await db.query<{ schema: string; table: string; referenced: string[] }>(REFERENCES_SQL);
  return rows
    .filter((r) => !isIn(exempt.declared, r.schema, r.table) && !isIn(exempt.optedOutPivots, r.schema, r.table))
    .map((r) => {
      const label = tableLabel({ schema: r.schema, name: r.table });
      return {
        code: 'table-references-rls-table',
        table: label,
        message:
          `${label} has no row level security but references ${r.referenced.join(', ')} (with row level security): every tenant can read its rows ` +
          '(which hidden rows exist, and how they are linked) and write links to rows it cannot see.',
        fix:
          "Declare policies on its entity (rls: { policies }), e.g. a row is visible when the row it references is: sql`${column('<fk column>')} in (select id from <table>)`; " +
          'for the pivot table of an m:n relation between RLS entities, remove its rls.pivotTables opt-out. Or revoke the application role\'s privileges on it.',
      };
    });
}

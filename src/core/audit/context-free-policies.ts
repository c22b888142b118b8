import type { Queryable } from '../catalog/queryable';
import { tableLabel, type TableRef } from '../ddl/quote';
import type { AuditFinding } from './audit-finding';

interface PolicyRow {
  schema: string;
  table: string;
  name: string;
  using: string | null;
  with_check: string | null;
  /** Other tables with row level security the policy's expressions read (from pg_depend). */
  rls_tables: string[];
}

// pg_depend records every relation a policy's expressions reference, sub-selects included.
const POLICIES_SQL = `
  select n.nspname as schema, c.relname as table, p.polname as name,
         pg_get_expr(p.polqual, p.polrelid) as using, pg_get_expr(p.polwithcheck, p.polrelid) as with_check,
         array(select distinct t.oid::regclass::text from pg_depend d join pg_class t on t.oid = d.refobjid
               where d.classid = 'pg_policy'::regclass and d.objid = p.oid and d.refclassid = 'pg_class'::regclass
                 and d.refobjid <> p.polrelid and t.relrowsecurity) as rls_tables
  from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
  where (n.nspname, c.relname) in (select * from unnest($1::text[], $2::text[]))
  order by 1, 2, 3`;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether an expression depends on the request's context: it reads a context variable
 * (`current_setting('<prefix>.…')`), or it has a sub-select and the policy reads another table with row
 * level security, whose own policies then filter by the context (how pivot-table policies work).
 */
function readsContext(expression: string, prefix: string, readsRlsTable: boolean): boolean {
  if (new RegExp(`current_setting\\s*\\(\\s*'${escapeRegExp(prefix)}\\.`, 'i').test(expression)) return true;
  return readsRlsTable && /\bselect\b/i.test(expression);
}

/** A policy's expressions, and whether they read another table with row level security. */
export interface PolicyExpressions {
  readonly table: TableRef;
  readonly name: string;
  readonly using: string | null;
  readonly withCheck: string | null;
  /** Whether its expressions read another table with row level security (whose policies then filter by the context). */
  readonly readsRlsTable: boolean;
}

/**
 * The finding for a policy whose expression is the same for every tenant (`using (true)`, or a test of
 * the row alone), if it has one: such a permissive policy lets every tenant see (or write) those rows.
 * Shared by the audit (on the catalog) and the policy explorer (on the declarations too).
 */
export function contextFreePolicyFinding(policy: PolicyExpressions, prefix: string): AuditFinding | undefined {
  const clauses = [
    ['USING', policy.using],
    ['WITH CHECK', policy.withCheck],
  ].filter((c): c is [string, string] => c[1] !== null && !readsContext(c[1], prefix, policy.readsRlsTable));
  if (clauses.length === 0) return undefined;
  const label = tableLabel(policy.table);
  return {
    code: 'policy-reads-no-context',
    table: label,
    message:
      `Policy "${policy.name}" on ${label} has a ${clauses.map(([clause, text]) => `${clause} (${text})`).join(' and a ')} that reads no context variable ` +
      `(no current_setting('${prefix}.…'), no table with row level security): it is the same for every tenant.`,
    fix: `Make it compare a column with a condition arg (customExpr), or drop it if it is not meant to be there. If a function it calls reads the context, this finding can be ignored.`,
  };
}

/**
 * Policies on managed tables with an expression that is the same for every tenant, read from the
 * catalog (which tables with row level security each reads comes from pg_depend).
 */
export async function contextFreePolicyFindings(db: Queryable, tables: readonly TableRef[], prefix: string): Promise<AuditFinding[]> {
  if (tables.length === 0) return [];
  const rows = await db.query<PolicyRow>(POLICIES_SQL, [tables.map((t) => t.schema), tables.map((t) => t.name)]);
  return rows.flatMap((row) => {
    const finding = contextFreePolicyFinding(
      { table: { schema: row.schema, name: row.table }, name: row.name, using: row.using, withCheck: row.with_check, readsRlsTable: row.rls_tables.length > 0 },
      prefix,
    );
    return finding ? [finding] : [];
  });
}

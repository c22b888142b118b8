import { canonicalizeSpecs } from '../catalog/canonicalize';
import { readLiveState, type LiveTableState } from '../catalog/live-state';
import { readPartitions, type Partition } from '../catalog/partitions';
import type { Queryable } from '../catalog/queryable';
import { qualifiedTable, tableLabel, type TableRef } from '../ddl/quote';
import { coverPartitions } from '../diff/cover-partitions';
import { diffRls } from '../diff/diff-rls';
import type { RlsSettings } from '../settings/rls-settings';
import type { AuditFinding } from './audit-finding';
import { readAuditTarget, type AuditTarget } from './audit-target';
import { contextFreePolicyFindings } from './context-free-policies';
import { roleFindings } from './role-findings';
import { undeclaredPolicyFindings } from './undeclared-policies';
import { unprotectedPartitionFindings } from './unprotected-partitions';
import { unprotectedReferenceFindings } from './unprotected-references';
import { readsSettingPerRow } from './unwrapped-settings';
import { writeWithoutSelectFinding } from './write-without-select';

const isIn = (list: readonly TableRef[], t: TableRef) => list.some((x) => x.schema === t.schema && x.name === t.name);

/** Whether `policy` on `table` is one MikroORM 7 created from a native declaration, not yet taken over (see TableRlsSpec.adoptable). */
const adoptable = (desired: RlsSettings['tables'], table: TableRef, name: string) =>
  desired.some((s) => s.table.schema === table.schema && s.table.name === table.name && s.adoptable?.includes(name) === true);

function tableFindings(live: readonly LiveTableState[], declared: RlsSettings['tables']): AuditFinding[] {
  const findings: AuditFinding[] = [];
  for (const spec of declared) {
    const state = live.find((t) => t.table.schema === spec.table.schema && t.table.name === spec.table.name);
    const label = tableLabel(spec.table);
    if (!state) {
      findings.push({ code: 'table-missing', table: label, message: `${label} declares policies but does not exist.`, fix: 'npx mikro-orm migration:up' });
      continue;
    }
    if (!state.enabled) {
      findings.push({ code: 'table-rls-disabled', table: label, message: `${label} declares policies but row level security is not enabled: its policies do nothing.`, fix: `ALTER TABLE ${qualifiedTable(spec.table)} ENABLE ROW LEVEL SECURITY;` });
    }
    if (spec.force && !state.forced) {
      findings.push({ code: 'table-not-forced', table: label, message: `${label} is not FORCE ROW LEVEL SECURITY: its owner bypasses the policies.`, fix: `ALTER TABLE ${qualifiedTable(spec.table)} FORCE ROW LEVEL SECURITY;` });
    }
  }
  for (const state of live) {
    const label = tableLabel(state.table);
    const writeOnly = state.enabled ? writeWithoutSelectFinding(label, state.policies.map((p) => p.command)) : undefined;
    if (writeOnly) findings.push(writeOnly);
    for (const policy of state.policies) {
      if ([policy.using, policy.withCheck].some((e) => e !== null && readsSettingPerRow(e))) {
        findings.push({ code: 'setting-read-per-row', table: label, message: `Policy "${policy.name}" on ${label} calls current_setting() outside a (select ...): it is evaluated for every row.`, fix: "Wrap it: (select current_setting('...', true))" });
      }
    }
  }
  return findings;
}

/**
 * Policies that differ from the declaration, on the entity tables and on their partitions. Hand-written
 * policies are left out: `policy-undeclared` reports them, and a diff would refuse one named like a
 * declared policy.
 */
async function driftFindings(db: Queryable, settings: RlsSettings, live: readonly LiveTableState[], partitions: readonly Partition[]): Promise<AuditFinding[]> {
  const declared = settings.tables.filter((s) => isIn(live.map((t) => t.table), s.table));
  // Temporary copies: the audit runs as the application role, which may not create policies on the tables.
  let canonical;
  try {
    await db.query('savepoint mikro_orm_rls_audit_drift');
    canonical = await canonicalizeSpecs(db, declared, { onTemporaryCopies: true });
    await db.query('release savepoint mikro_orm_rls_audit_drift');
  } catch (error) {
    await db.query('rollback to savepoint mikro_orm_rls_audit_drift');
    return [{ code: 'drift-unchecked', message: `Policy drift could not be checked as this role: ${(error as Error).message}`, fix: 'Grant the role USAGE on the schema and SELECT on the tables, or run the audit as the owner as well.' }];
  }
  const desired = coverPartitions(canonical, settings.entityTables, partitions).desired;
  // Native policies the next migration takes over are compared too: the diff says it must run.
  const managedOnly = live.map((t) => ({ ...t, policies: t.policies.filter((p) => p.managed || adoptable(desired, t.table, p.name)) }));
  return diffRls(desired, managedOnly)
    .filter((op) => op.description.includes('policy'))
    .map((op) => ({
      code: 'policy-drift',
      table: tableLabel(op.table),
      message: `${tableLabel(op.table)}: the live policies differ from the declared ones (${op.description} needed).`,
      fix: 'npx mikro-orm migration:create && npx mikro-orm migration:up',
    }));
}

async function viewFindings(db: Queryable): Promise<AuditFinding[]> {
  const views = await db.query<{ schema: string; view: string; kind: string; tables: string }>(
    `select vn.nspname as schema, v.relname as view, v.relkind::text as kind, string_agg(distinct tn.nspname || '.' || t.relname, ', ') as tables
     from pg_class v
     join pg_namespace vn on vn.oid = v.relnamespace
     join pg_rewrite r on r.ev_class = v.oid
     join pg_depend d on d.objid = r.oid and d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
     join pg_class t on t.oid = d.refobjid and t.oid <> v.oid and t.relrowsecurity
     join pg_namespace tn on tn.oid = t.relnamespace
     where v.relkind in ('v', 'm')
       and (v.relkind = 'm' or not exists (select 1 from pg_options_to_table(v.reloptions) o where o.option_name = 'security_invoker' and o.option_value in ('true', 'on', '1')))
     group by 1, 2, 3 order by 1, 2`,
  );
  return views.map((v) => {
    const view = tableLabel({ schema: v.schema, name: v.view });
    return v.kind === 'm'
      ? { code: 'materialized-view-over-rls', table: view, message: `Materialized view ${view} stores rows of ${v.tables} without their policies.`, fix: 'Do not expose it to the application role, or drop it.' }
      : { code: 'view-without-security-invoker', table: view, message: `View ${view} reads ${v.tables} with its owner's rights: RLS does not apply to its readers.`, fix: `ALTER VIEW ${qualifiedTable({ schema: v.schema, name: v.view })} SET (security_invoker = true);` };
  });
}

/**
 * What an audit found, and the database and role it checked (which its role findings describe).
 *
 * @example
 * const report: AuditReport = await auditRlsReport(orm);
 * console.log(describeAuditTarget(report.target).join('\n'), report.findings.length);
 */
export interface AuditReport {
  readonly target: AuditTarget;
  readonly findings: AuditFinding[];
}

/**
 * Every audit rule, run on `db` (inside the caller's read-only transaction) against the declarations of
 * `settings`: what `auditRlsReport` returns on either MikroORM major.
 */
export async function auditReportIn(db: Queryable, settings: RlsSettings): Promise<AuditReport> {
  const covered = coverPartitions(settings.tables, settings.entityTables, await readPartitions(db, settings.entityTables));
  const live = await readLiveState(db, covered.entityTables);
  const target = await readAuditTarget(db, live.map((t) => t.table));
  // Managed: tables with declared policies and their partitions.
  const managed = live.filter((t) => isIn(covered.desired.map((s) => s.table), t.table));
  const findings = [
    ...roleFindings(target, live),
    ...tableFindings(live, settings.tables),
    ...unprotectedPartitionFindings(covered.partitions, settings.tables, live),
    // Native policies of a native declaration are declared: drift reports the migration that takes them over.
    ...undeclaredPolicyFindings(managed.map((t) => ({ ...t, policies: t.policies.filter((p) => p.managed || !adoptable(covered.desired, t.table, p.name)) }))),
    ...(await contextFreePolicyFindings(db, managed.map((t) => t.table), settings.prefix)),
    ...(await driftFindings(db, settings, live, covered.partitions)),
    ...(await unprotectedReferenceFindings(db, { declared: settings.tables.map((s) => s.table), optedOutPivots: settings.optedOutPivotTables })),
    ...(await viewFindings(db)),
  ];
  return { target, findings };
}

import type { AuditFinding } from '../audit/audit-finding';
import { contextFreePolicyFindings } from '../audit/context-free-policies';
import { unprotectedReferenceFindings } from '../audit/unprotected-references';
import { canonicalizeSpecs } from '../catalog/canonicalize';
import { readLiveState } from '../catalog/live-state';
import { readPartitions } from '../catalog/partitions';
import type { Queryable } from '../catalog/queryable';
import type { TableRlsSpec } from '../ddl/policy-spec';
import { tableLabel, type TableRef } from '../ddl/quote';
import { groupBy, tableSet, tableKey } from '../ddl/table-keys';
import { coverPartitions } from '../diff/cover-partitions';
import type { RlsSettings } from '../settings/rls-settings';
import { buildPolicyMap } from './build-policy-map';
import type { PolicyMap } from './policy-map';

/**
 * Options of `describePolicies`.
 *
 * @example
 * const options: DescribePoliciesOptions = { live: true };
 * const map = await describePolicies(orm, options);
 */
export interface DescribePoliciesOptions {
  /** Read the database's policies and flags too, and mark where they differ from the declarations. Default `false`. */
  readonly live?: boolean;
}

const DRIFT_FIX = 'Grant the role USAGE on the schema and SELECT on the tables, or run the explorer as the owner.';

/** The specs in PostgreSQL's canonical text, probed on temporary copies inside a savepoint; the error if that fails (nothing kept). */
async function canonicalInSavepoint(db: Queryable, specs: readonly TableRlsSpec[]): Promise<{ canonical: readonly TableRlsSpec[] } | { error: Error }> {
  await db.query('savepoint mikro_orm_rls_explorer');
  try {
    const canonical = await canonicalizeSpecs(db, specs, { onTemporaryCopies: true });
    await db.query('release savepoint mikro_orm_rls_explorer');
    return { canonical };
  } catch (error) {
    await db.query('rollback to savepoint mikro_orm_rls_explorer');
    return { error: error as Error };
  }
}

/**
 * The declarations with PostgreSQL's canonical text, probed on temporary copies (the explorer may run
 * as the application role, which cannot create policies on the tables). All tables in one batch; if the
 * role cannot read some of them, schema by schema, then table by table in a schema that fails, so that
 * one unreadable table or schema does not make every policy look different. The tables that still fail
 * keep their declarations as rendered, named in a warning (a difference there may be formatting only).
 */
async function canonicalOrRendered(db: Queryable, declared: readonly TableRlsSpec[]): Promise<{ canonical: readonly TableRlsSpec[]; warning?: AuditFinding }> {
  const all = await canonicalInSavepoint(db, declared);
  if ('canonical' in all) return { canonical: all.canonical };
  const canonical: TableRlsSpec[] = [];
  const failed: { spec: TableRlsSpec; error: Error }[] = [];
  for (const schema of groupBy(declared, (spec) => spec.table.schema).values()) {
    const bySchema = await canonicalInSavepoint(db, schema);
    if ('canonical' in bySchema) {
      canonical.push(...bySchema.canonical);
      continue;
    }
    for (const spec of schema) {
      const one = await canonicalInSavepoint(db, [spec]);
      if ('canonical' in one) canonical.push(...one.canonical);
      else failed.push({ spec, error: one.error });
    }
  }
  if (failed.length === 0) return { canonical };
  const shown = failed.slice(0, 5).map(({ spec, error }) => `${tableLabel(spec.table)} (${error.message})`);
  const more = failed.length > shown.length ? ` and ${failed.length - shown.length} more` : '';
  return {
    canonical: [...canonical, ...failed.map(({ spec }) => spec)],
    warning: {
      code: 'drift-unchecked',
      message: `The declared expressions of ${shown.join(', ')}${more} could not be put in PostgreSQL's canonical form as this role: a difference in USING or WITH CHECK there may be formatting only.`,
      fix: DRIFT_FIX,
    },
  };
}

/**
 * The policy explorer's data, read on `db` (inside the caller's transaction): the declarations of
 * `settings`, the catalog's foreign keys (for tables without row level security that reference RLS
 * tables) and, with `live`, the tables' live flags and policies. Changes nothing.
 */
export async function describePoliciesIn(db: Queryable, settings: RlsSettings, entityOf: (table: TableRef) => string | null, options: DescribePoliciesOptions = {}): Promise<PolicyMap> {
  // The partitions of declared tables too, each right after its table with the table's policies, as
  // createPolicies gives them (partitions exist only in the catalog).
  const covered = coverPartitions(settings.tables, settings.entityTables, await readPartitions(db, settings.entityTables));
  const declared = covered.desired;
  const partitionRoots = new Map(covered.partitions.map((p) => [tableKey(p.table), p.root]));
  const references = await unprotectedReferenceFindings(db, { declared: declared.map((s) => s.table), optedOutPivots: settings.optedOutPivotTables });
  if (!options.live) return buildPolicyMap({ declared, entityOf, partitionRoots, prefix: settings.prefix, references });
  const states = await readLiveState(db, declared.map((s) => s.table));
  const existing = tableSet(states.map((s) => s.table));
  const { canonical, warning } = await canonicalOrRendered(db, declared.filter((s) => existing.has(tableKey(s.table))));
  const contextFree = await contextFreePolicyFindings(db, states.map((s) => s.table), settings.prefix);
  const map = buildPolicyMap({ declared, entityOf, partitionRoots, prefix: settings.prefix, references, live: { states, canonical, contextFree } });
  return warning ? { ...map, otherWarnings: [...map.otherWarnings, warning] } : map;
}

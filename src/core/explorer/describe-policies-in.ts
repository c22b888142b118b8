import type { AuditFinding } from '../audit/audit-finding';
import { contextFreePolicyFindings } from '../audit/context-free-policies';
import { unprotectedReferenceFindings } from '../audit/unprotected-references';
import { canonicalizeSpecs } from '../catalog/canonicalize';
import { readLiveState } from '../catalog/live-state';
import type { Queryable } from '../catalog/queryable';
import type { TableRlsSpec } from '../ddl/policy-spec';
import type { TableRef } from '../ddl/quote';
import { tableSet, tableKey } from '../ddl/table-keys';
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

/**
 * The declarations with PostgreSQL's canonical text, probed on temporary copies (the explorer may run
 * as the application role, which cannot create policies on the tables). When that fails, the
 * declarations as rendered, with a warning that formatting may then show as a difference.
 */
async function canonicalOrRendered(db: Queryable, declared: readonly TableRlsSpec[]): Promise<{ canonical: readonly TableRlsSpec[]; warning?: AuditFinding }> {
  try {
    await db.query('savepoint mikro_orm_rls_explorer');
    const canonical = await canonicalizeSpecs(db, declared, { onTemporaryCopies: true });
    await db.query('release savepoint mikro_orm_rls_explorer');
    return { canonical };
  } catch (error) {
    await db.query('rollback to savepoint mikro_orm_rls_explorer');
    return {
      canonical: declared,
      warning: {
        code: 'drift-unchecked',
        message: `The declared expressions could not be put in PostgreSQL's canonical form as this role (${(error as Error).message}): a difference in USING or WITH CHECK may be formatting only.`,
        fix: 'Grant the role SELECT on the tables, or run the explorer as the owner.',
      },
    };
  }
}

/**
 * The policy explorer's data, read on `db` (inside the caller's transaction): the declarations of
 * `settings`, the catalog's foreign keys (for tables without row level security that reference RLS
 * tables) and, with `live`, the tables' live flags and policies. Changes nothing.
 */
export async function describePoliciesIn(db: Queryable, settings: RlsSettings, entityOf: (table: TableRef) => string | null, options: DescribePoliciesOptions = {}): Promise<PolicyMap> {
  const declared = settings.tables;
  const references = await unprotectedReferenceFindings(db, { declared: declared.map((s) => s.table), optedOutPivots: settings.optedOutPivotTables });
  if (!options.live) return buildPolicyMap({ declared, entityOf, prefix: settings.prefix, references });
  const states = await readLiveState(db, declared.map((s) => s.table));
  const existing = tableSet(states.map((s) => s.table));
  const { canonical, warning } = await canonicalOrRendered(db, declared.filter((s) => existing.has(tableKey(s.table))));
  const contextFree = await contextFreePolicyFindings(db, states.map((s) => s.table), settings.prefix);
  const map = buildPolicyMap({ declared, entityOf, prefix: settings.prefix, references, live: { states, canonical, contextFree } });
  return warning ? { ...map, otherWarnings: [...map.otherWarnings, warning] } : map;
}

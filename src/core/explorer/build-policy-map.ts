import type { AuditFinding } from '../audit/audit-finding';
import { contextFreePolicyFinding } from '../audit/context-free-policies';
import { forAllWidensSelectFinding } from '../audit/for-all-widens-select';
import { writeWithoutSelectFinding } from '../audit/write-without-select';
import type { LiveTableState } from '../catalog/live-state';
import type { PolicySpec, TableRlsSpec } from '../ddl/policy-spec';
import { tableLabel, type TableRef } from '../ddl/quote';
import { byTable, tableKey } from '../ddl/table-keys';
import { policyDifferences } from './policy-differences';
import type { PolicyMap, TablePolicies } from './policy-map';
import { tableAccess } from './table-access';

/** What the explorer is built from: the declarations, and, with `live`, what the database has. */
export interface PolicyMapInput {
  /** The declared tables, with the policies as rendered from the declarations. */
  readonly declared: readonly TableRlsSpec[];
  /** The entity whose table it is. */
  readonly entityOf: (table: TableRef) => string | null;
  /** For the partitions among `declared` (which carry their table's policies): that table. */
  readonly partitionRoots?: ReadonlyMap<string, TableRef>;
  /** The context variables' prefix (`rls`). */
  readonly prefix: string;
  /** Findings of the audit's `table-references-rls-table` rule (read from the catalog's foreign keys). */
  readonly references: readonly AuditFinding[];
  readonly live?: {
    readonly states: readonly LiveTableState[];
    /** The declarations with PostgreSQL's canonical expressions, for comparing. */
    readonly canonical: readonly TableRlsSpec[];
    /** Findings of the audit's `policy-reads-no-context` rule on the live policies. */
    readonly contextFree: readonly AuditFinding[];
  };
}

const mentions = (expression: string, table: TableRef) => new RegExp(`(^|[^\\w"])"?${table.name.replace(/\W/g, '\\$&')}"?($|[^\\w"])`).test(expression);

/**
 * Whether a declared expression reads another declared table: the catalog's pg_depend is not there to
 * ask, so a sub-select that names one counts (what the audit's rule learns from pg_depend on live policies).
 */
function readsDeclaredTable(policy: PolicySpec, own: TableRef, declared: readonly TableRlsSpec[]): boolean {
  const text = `${policy.using ?? ''} ${policy.withCheck ?? ''}`;
  return /\bselect\b/i.test(text) && declared.some((s) => tableKey(s.table) !== tableKey(own) && mentions(text, s.table));
}

function warningsOf(table: TableRef, enabled: boolean, policies: readonly PolicySpec[], contextFree: readonly AuditFinding[]): AuditFinding[] {
  const label = tableLabel(table);
  const found = [
    enabled ? writeWithoutSelectFinding(label, policies.map((p) => p.command)) : undefined,
    forAllWidensSelectFinding(label, policies),
    ...contextFree,
  ];
  return found.filter((f): f is AuditFinding => f !== undefined);
}

/**
 * The policy explorer's data, from plain inputs (no database): per declared table, what each command
 * gets on the declared side and, with `live`, on the live side, the warnings (the audit's rules, worded
 * as the audit words them) and the differences between the two.
 */
export function buildPolicyMap(input: PolicyMapInput): PolicyMap {
  const liveByTable = input.live ? byTable(input.live.states, (s) => s.table) : undefined;
  const canonicalByTable = input.live ? byTable(input.live.canonical, (s) => s.table) : undefined;
  const labels = new Set(input.declared.map((s) => tableLabel(s.table)));
  const tables = input.declared.map((spec): TablePolicies => {
    const label = tableLabel(spec.table);
    const declared = tableAccess({ enabled: true, forced: spec.force }, spec.policies);
    const references = input.references.filter((f) => f.table === label);
    const root = input.partitionRoots?.get(tableKey(spec.table));
    const base = { schema: spec.table.schema, name: spec.table.name, entity: input.entityOf(spec.table), ...(root && { partitionOf: tableLabel(root) }), declared };
    if (!liveByTable || !input.live) {
      const contextFree = spec.policies.flatMap((p) => {
        const finding = contextFreePolicyFinding({ table: spec.table, name: p.name, using: p.using, withCheck: p.withCheck, readsRlsTable: readsDeclaredTable(p, spec.table, input.declared) }, input.prefix);
        return finding ? [finding] : [];
      });
      return { ...base, warnings: [...warningsOf(spec.table, true, spec.policies, contextFree), ...references], differences: [] };
    }
    const state = liveByTable.get(tableKey(spec.table));
    const differences = policyDifferences(canonicalByTable?.get(tableKey(spec.table)) ?? spec, state);
    if (!state) return { ...base, live: null, warnings: references, differences };
    const contextFree = input.live.contextFree.filter((f) => f.table === label);
    return {
      ...base,
      live: tableAccess(state, state.policies),
      warnings: [...warningsOf(spec.table, state.enabled, state.policies, contextFree), ...references],
      differences,
    };
  });
  return { live: input.live !== undefined, tables, otherWarnings: input.references.filter((f) => f.table === undefined || !labels.has(f.table)) };
}

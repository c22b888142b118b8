import type { LiveTableState } from '../catalog/live-state';
import type { Partition } from '../catalog/partitions';
import type { TableRlsSpec } from '../ddl/policy-spec';
import { qualifiedTable, tableLabel } from '../ddl/quote';
import type { AuditFinding } from './audit-finding';

const FIX = 'npx mikro-orm migration:create && npx mikro-orm migration:up, or createPolicies(orm), as the owner: both give every partition its table\'s flags and policies';

/**
 * Partitions (each once, under the entity table it follows: `coverPartitions`) of tables with declared policies that lack row level security (or FORCE, when the table
 * declares it). PostgreSQL applies only the policies of the table a query names: the parent's policies
 * do not filter a query that names the partition. Missing or different policies on a partition are
 * reported as policy drift.
 */
export function unprotectedPartitionFindings(
  partitions: readonly Partition[],
  declared: readonly TableRlsSpec[],
  live: readonly LiveTableState[],
): AuditFinding[] {
  const findings: AuditFinding[] = [];
  for (const partition of partitions) {
    const spec = declared.find((s) => s.table.schema === partition.root.schema && s.table.name === partition.root.name);
    const state = live.find((t) => t.table.schema === partition.table.schema && t.table.name === partition.table.name);
    if (!spec || !state) continue;
    const label = tableLabel(partition.table);
    const of = `${label}, a partition of ${tableLabel(partition.root)},`;
    if (!state.enabled) {
      findings.push({
        code: 'partition-rls-disabled',
        table: label,
        message: `${of} does not have row level security enabled: a query that names it directly sees and changes every tenant's rows, whatever the parent's policies say.`,
        fix: `${FIX} (by hand: ALTER TABLE ${qualifiedTable(partition.table)} ENABLE ROW LEVEL SECURITY; then the parent's policies).`,
      });
    } else if (spec.force && !state.forced) {
      findings.push({
        code: 'partition-not-forced',
        table: label,
        message: `${of} is not FORCE ROW LEVEL SECURITY: its owner bypasses its policies when naming it directly.`,
        fix: `${FIX} (by hand: ALTER TABLE ${qualifiedTable(partition.table)} FORCE ROW LEVEL SECURITY;).`,
      });
    }
  }
  return findings;
}

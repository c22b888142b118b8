import type { Partition } from '../catalog/partitions';
import type { TableRlsSpec } from '../ddl/policy-spec';
import type { TableRef } from '../ddl/quote';

const sameTable = (a: TableRef, b: TableRef) => a.schema === b.schema && a.name === b.name;

/**
 * For each partition, the entity table whose declaration it follows: its nearest ancestor among the
 * entity tables (a partition mapped by an entity of its own follows nothing, it is an entity table).
 */
function rootsOf(partitions: readonly Partition[], entityTables: readonly TableRef[]): Map<Partition, TableRef> {
  const roots = new Map<Partition, TableRef>();
  for (const partition of partitions) {
    if (entityTables.some((t) => sameTable(t, partition.table))) continue;
    const candidates = partitions.filter((p) => sameTable(p.table, partition.table)).map((p) => p.root);
    // An ancestor that is itself a partition of another candidate is the nearer one.
    const nearest = candidates.find((root) => !candidates.some((other) => partitions.some((p) => sameTable(p.table, other) && sameTable(p.root, root))));
    if (nearest && sameTable(nearest, partition.root)) roots.set(partition, nearest);
  }
  return roots;
}

/**
 * The declared state, extended to the partitions (as `readPartitions` lists them): each partition of a table with policies gets that
 * table's flags and policies (same names, same expressions), listed right after it; each partition of an
 * entity table also counts as an entity table, so its managed policies are dropped when the table stops
 * declaring any. Expressions are reused as they are: PostgreSQL stores the same text on a partition
 * (columns are referenced by name, and a partition has its parent's columns).
 */
export function coverPartitions(
  desired: readonly TableRlsSpec[],
  entityTables: readonly TableRef[],
  partitions: readonly Partition[],
): { desired: TableRlsSpec[]; entityTables: TableRef[]; partitions: Partition[] } {
  const roots = rootsOf(partitions, entityTables);
  const under = (table: TableRef) => [...roots].filter(([, root]) => sameTable(root, table)).map(([p]) => p.table);
  return {
    desired: desired.flatMap((spec) => [spec, ...under(spec.table).map((table) => ({ ...spec, table }))]),
    entityTables: entityTables.flatMap((table) => [table, ...under(table)]),
    // Each partition once, under the entity table it follows.
    partitions: [...roots].map(([p, root]) => ({ table: p.table, root })),
  };
}

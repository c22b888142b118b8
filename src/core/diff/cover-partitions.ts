import type { Partition } from '../catalog/partitions';
import type { TableRlsSpec } from '../ddl/policy-spec';
import type { TableRef } from '../ddl/quote';
import { tableKey, tableSet } from '../ddl/table-keys';

/**
 * For each partition, the entity table whose declaration it follows: its nearest ancestor among the
 * entity tables (a partition mapped by an entity of its own follows nothing, it is an entity table).
 * `readPartitions` lists a partition once per ancestor; lookups go through maps, so that thousands of
 * partitions plan in linear time.
 */
function rootsOf(partitions: readonly Partition[], entityTables: readonly TableRef[]): Map<Partition, TableRef> {
  const entities = tableSet(entityTables);
  const ancestors = new Map<string, TableRef[]>();
  for (const p of partitions) {
    const key = tableKey(p.table);
    const list = ancestors.get(key);
    if (list) list.push(p.root);
    else ancestors.set(key, [p.root]);
  }
  const pairs = new Set(partitions.map((p) => `${tableKey(p.table)}\u0001${tableKey(p.root)}`));
  const roots = new Map<Partition, TableRef>();
  for (const partition of partitions) {
    if (entities.has(tableKey(partition.table))) continue;
    const candidates = ancestors.get(tableKey(partition.table)) ?? [];
    // An ancestor that is itself a partition of another candidate is the nearer one.
    const nearest = candidates.find((root) => !candidates.some((other) => pairs.has(`${tableKey(other)}\u0001${tableKey(root)}`)));
    if (nearest && tableKey(nearest) === tableKey(partition.root)) roots.set(partition, nearest);
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
  const following = new Map<string, TableRef[]>();
  for (const [p, root] of roots) {
    const list = following.get(tableKey(root));
    if (list) list.push(p.table);
    else following.set(tableKey(root), [p.table]);
  }
  const under = (table: TableRef) => following.get(tableKey(table)) ?? [];
  return {
    desired: desired.flatMap((spec) => [spec, ...under(spec.table).map((table) => ({ ...spec, table }))]),
    entityTables: entityTables.flatMap((table) => [table, ...under(table)]),
    // Each partition once, under the entity table it follows.
    partitions: [...roots].map(([p, root]) => ({ table: p.table, root })),
  };
}

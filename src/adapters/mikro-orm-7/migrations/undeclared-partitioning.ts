import type { DatabaseSchema } from '@mikro-orm/sql';

/**
 * Leaves a table's partitioning out of the comparison when its entity declares none (`partitionBy`),
 * in both directions. MikroORM 7 means to leave such partitioning unmanaged ("never drop or alter an
 * existing table's partitioning just because the entity omits it"), but only holds to it in the way up:
 * the way down compares the declared schema to the live one, sees partitioning "added", and writes a
 * rebuild of the table (copy every row into a new, flatter partitioned table) into the down of every
 * migration created against the catalog, whatever it changes. Tables partitioned by hand-written SQL are
 * what this package protects partition by partition, so their downs must stay exact.
 */
export function withUndeclaredPartitioningUnmanaged(fromSchema: DatabaseSchema, toSchema: DatabaseSchema): void {
  for (const from of fromSchema.getTables()) {
    if (from.getPartitioning() === undefined) continue;
    const to = toSchema.getTables().find((t) => t.getShortestName() === from.getShortestName());
    if (to !== undefined && to.getPartitioning() === undefined) from.setPartitioning(undefined);
  }
}

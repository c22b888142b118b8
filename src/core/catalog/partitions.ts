import type { TableRef } from '../ddl/quote';
import type { Queryable } from './queryable';

/** A partition of an entity table, at any depth of its partition tree. */
export interface Partition {
  readonly table: TableRef;
  /** The entity table at the top of the tree: the one whose declared RLS state the partition must have. */
  readonly root: TableRef;
}

// Recursive through pg_inherits, so sub-partitions (partitions of a partitioned partition) are found too.
// Only real partitions (relispartition): a child of classic table inheritance is a table of its own.
// Only tables and partitioned tables: a foreign table partition cannot have row level security.
// Ordered depth first by name, so the statements of a migration read like the partition tree.
const PARTITIONS_SQL = `
  with recursive tree(oid, root_schema, root_name, path) as (
    select c.oid, rn.nspname::text, r.relname::text, array[c.relname::text]
    from pg_inherits i
    join pg_class r on r.oid = i.inhparent join pg_namespace rn on rn.oid = r.relnamespace
    join pg_class c on c.oid = i.inhrelid
    where c.relispartition and (rn.nspname, r.relname) in (select * from unnest($1::text[], $2::text[]))
    union all
    select c.oid, t.root_schema, t.root_name, t.path || c.relname::text
    from tree t join pg_inherits i on i.inhparent = t.oid join pg_class c on c.oid = i.inhrelid
    where c.relispartition
  )
  select n.nspname as schema, c.relname as table, t.root_schema, t.root_name
  from tree t join pg_class c on c.oid = t.oid join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p')
  order by t.root_schema, t.root_name, t.path`;

/**
 * Every partition of the given tables, recursively. PostgreSQL applies only the policies of the table a
 * query names, so a partition queried directly skips its parent's: each partition needs them itself.
 * Partitions exist only in the database (MikroORM 6 does not declare them), hence read from the catalog.
 */
export async function readPartitions(db: Queryable, tables: readonly TableRef[]): Promise<Partition[]> {
  if (tables.length === 0) return [];
  const rows = await db.query<{ schema: string; table: string; root_schema: string; root_name: string }>(PARTITIONS_SQL, [
    tables.map((t) => t.schema),
    tables.map((t) => t.name),
  ]);
  return rows.map((r) => ({ table: { schema: r.schema, name: r.table }, root: { schema: r.root_schema, name: r.root_name } }));
}

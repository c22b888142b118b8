import type { EntityMetadata, EntityProperty } from '@mikro-orm/core';
import { propertiesOf, targetOf, writesPivot } from './metadata-access';
import { qualifiedTable, quoteIdent, type TableRef } from '../ddl/quote';
import { Command } from '../policy/command';
import { Permissive, type Policy } from '../policy/policy';
import { column, sql, type SqlExpression } from '../policy/sql';

/** One side of a link: the pivot columns that point at a table, and the columns they point at. */
export interface LinkEnd {
  readonly table: TableRef;
  readonly pivotColumns: readonly string[];
  readonly referencedColumns: readonly string[];
}

/** An m:n relation's owning side, the pivot table it writes, and both entities. */
export interface PivotRelation {
  readonly owner: EntityMetadata;
  readonly prop: EntityProperty;
  readonly target: EntityMetadata;
}

/** The owning m:n properties that write to `pivot` (usually one; the inverse side has none of its own). */
export function relationsOfPivot(pivot: EntityMetadata, all: readonly EntityMetadata[]): PivotRelation[] {
  const found: PivotRelation[] = [];
  for (const owner of all) {
    for (const prop of propertiesOf(owner)) {
      if (prop.kind !== 'm:n' || !prop.owner || !writesPivot(prop, pivot)) continue;
      const target = targetOf(prop, all);
      if (target) found.push({ owner, prop, target });
    }
  }
  return found;
}

/** Both ends of the relation, as columns of the pivot table and of the tables they reference. */
export function linkEnds(relation: PivotRelation, tableOf: (meta: EntityMetadata) => TableRef): { owner: LinkEnd; target: LinkEnd } {
  const { owner, prop, target } = relation;
  const pkColumns = (meta: EntityMetadata) => meta.primaryKeys.flatMap((pk) => meta.properties[pk].fieldNames);
  return {
    owner: { table: tableOf(owner), pivotColumns: prop.joinColumns, referencedColumns: prop.referencedColumnNames ?? pkColumns(owner) },
    target: { table: tableOf(target), pivotColumns: prop.inverseJoinColumns, referencedColumns: pkColumns(target) },
  };
}

/**
 * `(pivot columns) in (select referenced columns from table)`. The left side is always read from the
 * pivot row (an IN's left operand is outside the subquery), so a column of the same name in the
 * referenced table cannot capture it, as it could inside an `exists (... where id = pivot_col)`. The
 * subquery reads the referenced table under its own policies: it returns only rows the scope may see.
 */
function visibleEnd(end: LinkEnd): SqlExpression {
  const many = end.pivotColumns.length > 1;
  const left = end.pivotColumns.map((c) => column(c)).reduce((a, b) => sql`${a}, ${b}`);
  const right = end.referencedColumns.map(quoteIdent).join(', ');
  const subquery = sql.raw(` in (select ${right} from ${qualifiedTable(end.table)})`);
  return many ? sql`(${left})${subquery}` : sql`${left}${subquery}`;
}

/**
 * The policy of a pivot table: one FOR ALL policy whose USING and WITH CHECK require every RLS end of the
 * link to be visible. Ends whose table has no RLS add nothing (everybody sees those rows anyway).
 */
export function pivotPolicy(ends: readonly LinkEnd[]): Policy {
  const condition = ends.map(visibleEnd).reduce((a, b) => sql`${a} and ${b}`);
  return Permissive({ cmd: Command.all, customExpr: () => condition, customPolicyName: 'linked_rows' });
}

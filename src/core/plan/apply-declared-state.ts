import { canonicalizeSpecs } from '../catalog/canonicalize';
import { findMissingTables, readLiveState } from '../catalog/live-state';
import { readPartitions } from '../catalog/partitions';
import type { Queryable } from '../catalog/queryable';
import type { TableRlsSpec } from '../ddl/policy-spec';
import { tableLabel, type TableRef } from '../ddl/quote';
import { coverPartitions } from '../diff/cover-partitions';
import { diffRls } from '../diff/diff-rls';
import type { RlsOperation } from '../diff/operation';
import { RlsConfigurationError } from '../errors/rls-configuration-error';

/** What `createPolicies` / `dropPolicies` bring the database to, on either MikroORM major. */
export interface DeclaredState {
  /** The declared RLS state; `[]` drops every managed policy. */
  readonly desired: readonly TableRlsSpec[];
  /** Every entity table, with or without policies. */
  readonly entityTables: readonly TableRef[];
  readonly manageAllPolicies: boolean;
}

/**
 * Runs, on `db` (inside the caller's transaction), the operations that bring the entity tables and their
 * partitions to `state`, and returns them. Partitions get their root table's state too: a query that
 * names a partition skips the parent's policies. With policies declared, every table must exist first.
 */
export async function applyDeclaredState(db: Queryable, state: DeclaredState): Promise<RlsOperation[]> {
  const missing = await findMissingTables(db, state.desired.map((t) => t.table));
  if (missing.length > 0) {
    throw new RlsConfigurationError(
      `Cannot apply RLS policies: table(s) ${missing.map(tableLabel).join(', ')} do not exist. ` +
        'Create the schema first (orm.schema.create() / createSchema(), or your migrations).',
    );
  }
  const canonical = await canonicalizeSpecs(db, state.desired);
  const covered = coverPartitions(canonical, state.entityTables, await readPartitions(db, state.entityTables));
  const live = await readLiveState(db, covered.entityTables, { manageAll: state.manageAllPolicies });
  const operations = diffRls(covered.desired, live);
  for (const op of operations) {
    for (const statement of op.up) await db.query(statement);
  }
  return operations;
}

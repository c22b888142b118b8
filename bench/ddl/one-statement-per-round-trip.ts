import { canonicalizeSpecs } from '../../src/core/catalog/canonicalize';
import { findMissingTables, readLiveState } from '../../src/core/catalog/live-state';
import { readPartitions } from '../../src/core/catalog/partitions';
import type { Queryable } from '../../src/core/catalog/queryable';
import { coverPartitions } from '../../src/core/diff/cover-partitions';
import { diffRls } from '../../src/core/diff/diff-rls';
import type { RlsOperation } from '../../src/core/diff/operation';
import type { DeclaredState } from '../../src/core/plan/apply-declared-state';

/**
 * `createPolicies` as it was before issue 14 (commit cf940b5), the baseline of the DDL section: in one
 * transaction, every declared policy probed (created under a probe name in a savepoint and read back),
 * then every statement of the plan sent in a message of its own. Built from the same catalog and diff
 * functions, so that only how the statements travel (and how many transactions) differs.
 */
export async function applyOneStatementPerRoundTrip(db: Queryable, state: DeclaredState): Promise<RlsOperation[]> {
  const missing = await findMissingTables(db, state.desired.map((t) => t.table));
  if (missing.length > 0) throw new Error(`${missing.length} tables are missing`);
  const canonical = await canonicalizeSpecs(db, state.desired);
  const covered = coverPartitions(canonical, state.entityTables, await readPartitions(db, state.entityTables));
  const live = await readLiveState(db, covered.entityTables, { manageAll: state.manageAllPolicies });
  const operations = diffRls(covered.desired, live);
  for (const op of operations) {
    for (const statement of op.up) await db.query(statement);
  }
  return operations;
}

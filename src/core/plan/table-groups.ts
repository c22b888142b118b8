import type { LiveTableState } from '../catalog/live-state';
import type { Partition } from '../catalog/partitions';
import type { TableRlsSpec } from '../ddl/policy-spec';
import type { TableRef } from '../ddl/quote';
import { tableKey } from '../ddl/table-keys';
import type { RlsOperation } from '../diff/operation';

/**
 * Locks counted per table besides those of its policies: the table itself (ENABLE, FORCE, CREATE and
 * ALTER POLICY lock only the table), and one more for what its expressions read (a role, another
 * table), which is usually shared by many tables but need not be.
 */
export const LOCKS_PER_TABLE = 2;

// COMMENT ON POLICY and DROP POLICY also lock the policy itself (measured on PostgreSQL 15), which is
// why a fresh table of four policies holds five locks, not one. Matched on this package's own statements.
const LOCKS_A_POLICY = /^(comment on|drop) policy /;

/**
 * An entity table with its partitions (which follow its declaration): what `createPolicies` changes in
 * one transaction, never split, so that no table and no partition tree is left half done.
 */
export interface TableGroup {
  /** The declared states, the entity table's first (none when it declares no policies). */
  readonly desired: readonly TableRlsSpec[];
  readonly live: readonly LiveTableState[];
  /**
   * The entity table's declared policies that exist already under their name, same command and kind: only
   * PostgreSQL's canonical text of them tells whether they changed (an ALTER) or not. Absent when none.
   */
  readonly toProbe?: TableRlsSpec;
  /** How many tables it has (the entity table and its partitions). */
  readonly tables: number;
  /** An upper bound of the objects its change locks (see {@link LOCKS_PER_TABLE}). */
  readonly locks: number;
}

/**
 * The groups of the plan, in its order (declared tables first, then tables that only have live state,
 * as `diffRls` orders its operations). `draft` is the plan from the declaration as rendered (before
 * PostgreSQL's canonical text is known): it has at least the statements of the final plan.
 */
export function groupTables(
  desired: readonly TableRlsSpec[],
  live: readonly LiveTableState[],
  partitions: readonly Partition[],
  draft: readonly RlsOperation[],
): TableGroup[] {
  const rootOf = new Map(partitions.map((p) => [tableKey(p.table), p.root]));
  const groupKey = (table: TableRef) => tableKey(rootOf.get(tableKey(table)) ?? table);
  const groups = new Map<string, { desired: TableRlsSpec[]; live: LiveTableState[] }>();
  const groupOf = (table: TableRef) => {
    const key = groupKey(table);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { desired: [], live: [] }));
    return group;
  };
  for (const spec of desired) groupOf(spec.table).desired.push(spec);
  for (const state of live) groupOf(state.table).live.push(state);
  const statements = new Map<string, number>();
  for (const op of draft) {
    const locking = op.up.filter((sql) => LOCKS_A_POLICY.test(sql)).length;
    statements.set(tableKey(op.table), (statements.get(tableKey(op.table)) ?? 0) + locking);
  }
  return [...groups.values()].map((group) => {
    const tables = new Set([...group.desired.map((s) => tableKey(s.table)), ...group.live.map((s) => tableKey(s.table))]);
    const locks = [...tables].reduce((sum, key) => sum + LOCKS_PER_TABLE + (statements.get(key) ?? 0), 0);
    const toProbe = probedPolicies(group.desired[0], group.live);
    // A policy a probe finds unchanged gets its fingerprint comment (see policy-fingerprint.ts): one more lock each.
    const fingerprinted = (toProbe?.policies.length ?? 0) * group.live.length;
    return { desired: group.desired, live: group.live, tables: tables.size, locks: locks + fingerprinted, ...(toProbe && { toProbe }) };
  });
}

/** The entity table's policies whose live counterpart (on it or a partition) only a probe can compare. */
function probedPolicies(spec: TableRlsSpec | undefined, live: readonly LiveTableState[]): TableRlsSpec | undefined {
  if (!spec) return undefined;
  const adoptable = new Set(spec.adoptable ?? []);
  const comparable = new Set(
    live.flatMap((state) => state.policies.filter((p) => p.managed || adoptable.has(p.name)).map((p) => JSON.stringify([p.name, p.command, p.permissive]))),
  );
  const policies = spec.policies.filter((p) => comparable.has(JSON.stringify([p.name, p.command, p.permissive])));
  return policies.length > 0 ? { ...spec, policies } : undefined;
}

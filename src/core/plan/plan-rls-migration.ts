import { canonicalizeSpecs } from '../catalog/canonicalize';
import { readLiveState, type LiveTableState } from '../catalog/live-state';
import { readPartitions } from '../catalog/partitions';
import type { Queryable } from '../catalog/queryable';
import type { TableRlsSpec } from '../ddl/policy-spec';
import type { TableRef } from '../ddl/quote';
import { coverPartitions } from '../diff/cover-partitions';
import { diffRls, policyOperations } from '../diff/diff-rls';
import type { RlsOperation } from '../diff/operation';
import { renderedKey, renderedValue, type RlsSnapshot } from './rls-snapshot';
import { tablesInSchemaSql } from './tables-in-sql';
import { byName, byTable, tableKey, tableSet } from '../ddl/table-keys';

export interface PlanInput {
  /** The declared state, as rendered by this package. */
  readonly desired: readonly TableRlsSpec[];
  /** Every entity table (with or without policies). */
  readonly entityTables: readonly TableRef[];
  /** MikroORM's own schema statements for the same migration. */
  readonly schema: { readonly up: readonly string[]; readonly down: readonly string[] };
  readonly defaultSchema: string;
  /** The previous migration's RLS state; when absent, the live catalog is the current state. */
  readonly snapshot?: RlsSnapshot;
  /** The schema statements create everything from nothing (initial migration): the current state is empty. */
  readonly initial?: boolean;
  /** Treat hand-written policies on entity tables as managed (see `RlsOptions.manageAllPolicies`). */
  readonly manageAllPolicies?: boolean;
}

export interface RlsPlan {
  readonly up: string[];
  readonly down: string[];
  /** RLS operations only, in the order they run on the way up. */
  readonly operations: RlsOperation[];
  /** The desired state as PostgreSQL stores it, partitions included, for the next snapshot. */
  readonly canonical: TableRlsSpec[];
  /** The partitions of entity tables the plan covered (read from the catalog), for the next snapshot. */
  readonly partitions: TableRef[];
}

const sameTable = (a: TableRef, b: TableRef) => a.schema === b.schema && a.name === b.name;

/**
 * PostgreSQL's canonical text for the desired policies, as they will be once the schema statements ran:
 * those statements run first inside a savepoint that is rolled back, so new tables and columns exist for
 * the probe. Policies whose rendered text equals the snapshot's reuse its canonical text.
 */
async function canonicalizeAfterSchema(db: Queryable, input: PlanInput): Promise<TableRlsSpec[]> {
  // Looked up per declared policy: by table, then by name (a scan each would make planning quadratic).
  const snapshotPolicies = new Map([...byTable(input.snapshot?.state ?? [], (t) => t.table)].map(([key, t]) => [key, byName(t.policies)]));
  const cached = (spec: TableRlsSpec, i: number) => {
    if (!input.snapshot || input.snapshot.rendered[renderedKey(spec, i)] !== renderedValue(spec, i)) return undefined;
    return snapshotPolicies.get(tableKey(spec.table))?.get(spec.policies[i].name);
  };
  const toProbe = input.desired
    .map((spec) => ({ ...spec, policies: spec.policies.filter((_, i) => !cached(spec, i)) }))
    .filter((spec) => spec.policies.length > 0);
  let probed: TableRlsSpec[] = [];
  if (toProbe.length > 0) {
    await db.query('savepoint mikro_orm_rls_plan');
    try {
      try {
        for (const statement of input.schema.up) if (statement.trim()) await db.query(statement);
      } catch {
        // The statements do not apply to this database as it is (for example it already has the tables an
        // initial migration creates): probe against the database as it is.
        await db.query('rollback to savepoint mikro_orm_rls_plan');
      }
      probed = await canonicalizeSpecs(db, toProbe);
    } finally {
      await db.query('rollback to savepoint mikro_orm_rls_plan');
      await db.query('release savepoint mikro_orm_rls_plan');
    }
  }
  const probedPolicies = new Map([...byTable(probed, (p) => p.table)].map(([key, spec]) => [key, byName(spec.policies)]));
  return input.desired.map((spec) => ({
    ...spec,
    policies: spec.policies.map((policy, i) => {
      const hit = cached(spec, i);
      const rendered = { roles: policy.roles, using: policy.using, withCheck: policy.withCheck };
      if (hit) return { ...policy, roles: hit.roles, using: hit.using, withCheck: hit.withCheck, rendered };
      const probe = probedPolicies.get(tableKey(spec.table))?.get(policy.name);
      return probe ?? policy;
    }),
  }));
}

/**
 * The state before the migration. From the snapshot when there is one, except for partitions it has not
 * recorded (created since, by hand-written SQL): those are read from the catalog. A partition the snapshot
 * recorded that is no longer one is left out, there is nothing to migrate on it.
 */
async function currentState(db: Queryable, input: PlanInput, dropped: readonly TableRef[], partitions: readonly TableRef[]): Promise<LiveTableState[]> {
  if (input.initial) return [];
  const options = { manageAll: input.manageAllPolicies };
  if (input.snapshot) {
    const recordedPartitions = tableSet(input.snapshot.partitions ?? []);
    const currentPartitions = tableSet(partitions);
    const state = input.snapshot.state
      .filter((t) => !recordedPartitions.has(tableKey(t.table)) || currentPartitions.has(tableKey(t.table)))
      .map((t) => ({ ...t, policies: t.policies.map((p) => ({ ...p, managed: true })) }));
    const inState = tableSet(state.map((s) => s.table));
    const unrecorded = partitions.filter((t) => !inState.has(tableKey(t)));
    return [...state, ...(unrecorded.length > 0 ? await readLiveState(db, unrecorded, options) : [])];
  }
  const entityTables = tableSet(input.entityTables);
  return readLiveState(db, [...input.entityTables, ...partitions, ...dropped.filter((t) => !entityTables.has(tableKey(t)))], options);
}

/** Statements of the operations, a blank line between tables, so a migration file reads table by table. */
function statementsByTable(ops: readonly RlsOperation[], direction: 'up' | 'down'): string[] {
  const out: string[] = [];
  ops.forEach((op, i) => {
    if (i > 0 && !sameTable(op.table, ops[i - 1].table)) out.push('');
    out.push(...op[direction]);
  });
  return out;
}

/** Non-empty groups of statements, separated by one blank line (MikroORM prints '' as an empty line). */
function joinGroups(groups: string[][]): string[] {
  const trimmed = groups.map((g) => {
    const copy = [...g];
    while (copy.length && copy[copy.length - 1] === '') copy.pop();
    return copy;
  });
  return trimmed.filter((g) => g.length > 0).flatMap((g, i) => (i === 0 ? g : ['', ...g]));
}

/**
 * The partitions of the entity tables, read from the catalog (MikroORM 6 knows nothing of partitions, so
 * its schema statements never create one). Not for an initial migration, which starts from an empty
 * database, nor under a table the migration drops (its partitions go with it).
 */
async function partitionsToCover(db: Queryable, input: PlanInput, dropped: readonly TableRef[]) {
  if (input.initial) return [];
  const droppedTables = tableSet(dropped);
  return (await readPartitions(db, input.entityTables)).filter((p) => !droppedTables.has(tableKey(p.root)));
}

/**
 * One migration's RLS part, ordered around MikroORM's schema statements:
 * 1. before them, drop the managed policies of tables they alter (a policy can depend on a column being
 *    changed; a partition's policies too, as altering a partitioned table alters its partitions) or drop
 *    (so the way down can restore them after the table is back);
 * 2. the schema statements;
 * 3. after them, everything else: new tables' policies, recreated ones, ALTER POLICY, RLS flags.
 * The way down undoes 3, then runs MikroORM's down statements, then undoes 1.
 *
 * Partitions of entity tables get their table's declared state, listed after it (see `coverPartitions`).
 */
export async function planRlsMigration(db: Queryable, input: PlanInput): Promise<RlsPlan> {
  const touched = tablesInSchemaSql(input.schema.up, input.defaultSchema);
  const partitions = await partitionsToCover(db, input, touched.dropped);
  const partitionTables = coverPartitions([], input.entityTables, partitions).partitions.map((p) => p.table);
  const alteredTables = tableSet(touched.altered);
  const altered = tableSet([...touched.altered, ...partitions.filter((p) => alteredTables.has(tableKey(p.root))).map((p) => p.table)]);
  const droppedTables = tableSet(touched.dropped);
  const current = await currentState(db, input, touched.dropped, partitionTables);
  const canonical = coverPartitions(await canonicalizeAfterSchema(db, input), input.entityTables, partitions).desired;
  const canonicalByTable = byTable(canonical, (spec) => spec.table);
  const before: RlsOperation[] = [];
  const remaining: LiveTableState[] = [];
  for (const table of current) {
    if (droppedTables.has(tableKey(table.table))) {
      before.push(...diffRls([], [table]));
    } else if (altered.has(tableKey(table.table))) {
      // Native policies being taken over depend on columns too: dropped first and recreated as ours after.
      const adoptable = canonicalByTable.get(tableKey(table.table))?.adoptable ?? [];
      before.push(...policyOperations(table.table, [], table.policies, adoptable));
      remaining.push({ ...table, policies: table.policies.filter((p) => !p.managed && !adoptable.includes(p.name)) });
    } else {
      remaining.push(table);
    }
  }
  const after = diffRls(canonical, remaining);
  const operations = [...before, ...after];
  const reversed = (ops: RlsOperation[]) => [...ops].reverse();
  return {
    up: joinGroups([statementsByTable(before, 'up'), [...input.schema.up], statementsByTable(after, 'up')]),
    down: joinGroups([statementsByTable(reversed(after), 'down'), [...input.schema.down], statementsByTable(reversed(before), 'down')]),
    operations,
    canonical,
    partitions: partitionTables,
  };
}

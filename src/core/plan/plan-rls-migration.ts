import { findMissingTables, readLiveState, type LivePolicy, type LiveTableState } from '../catalog/live-state';
import { readPartitions } from '../catalog/partitions';
import type { Queryable } from '../catalog/queryable';
import type { PolicySpec, TableRlsSpec } from '../ddl/policy-spec';
import type { TableRef } from '../ddl/quote';
import { coverPartitions } from '../diff/cover-partitions';
import { diffRls, policyOperations } from '../diff/diff-rls';
import type { RlsOperation } from '../diff/operation';
import { migrationStatements, type MigrationStatements } from './bounded-transactions';
import { probeAfterSchema } from './probe-after-schema';
import { keepRlsOnCreatedTablesOnTheWayDown, keepRlsOnDroppedTablesOnTheWayUp } from './rls-kept-on-before-drop';
import type { RlsSnapshot } from './rls-snapshot';
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
  /**
   * With a snapshot: when the database is behind it (migrations not applied yet), the statements that
   * bring the database to the declared schema (MikroORM's diff of the live database); `undefined` when it
   * is not behind. The policies are probed after those instead of `schema.up`. Asked only when a policy
   * has to be probed.
   */
  readonly catchUpSchema?: () => Promise<readonly string[] | undefined>;
  /** The schema statements create everything from nothing (initial migration): the current state is empty. */
  readonly initial?: boolean;
  /** Treat hand-written policies on entity tables as managed (see `RlsOptions.manageAllPolicies`). */
  readonly manageAllPolicies?: boolean;
}

export interface RlsPlan {
  /** Every statement in order, one transaction's worth (for `schema:update`). */
  readonly up: string[];
  readonly down: string[];
  /** The same for a migration file: in bounded transactions when one would take too many locks. */
  readonly migration: MigrationStatements;
  /** RLS operations only, in the order they run on the way up. */
  readonly operations: RlsOperation[];
  /** The declared state, partitions included, as rendered: the next snapshot. */
  readonly declared: TableRlsSpec[];
  /** The partitions of entity tables the plan covered (read from the catalog), for the next snapshot. */
  readonly partitions: TableRef[];
}

const sameTable = (a: TableRef, b: TableRef) => a.schema === b.schema && a.name === b.name;
const sameRoles = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');
const sameClauses = (a: PolicySpec, b: PolicySpec) => sameRoles(a.roles, b.roles) && a.using === b.using && a.withCheck === b.withCheck;
const specOf = ({ managed: _managed, comment: _comment, ...policy }: LivePolicy): PolicySpec => policy;

/**
 * The current state of a table, and whether it is recorded text (the snapshot: as this package rendered
 * it) or the catalog's (PostgreSQL's canonical text): a desired policy is compared with it in the same form.
 */
interface Current {
  readonly state: LiveTableState[];
  readonly recorded: Set<string>;
}

/**
 * The state before the migration. From the snapshot when there is one, except for partitions it has not
 * recorded (created since, by hand-written SQL): those are read from the catalog. A partition the snapshot
 * recorded that is no longer one is left out, there is nothing to migrate on it.
 */
async function currentState(db: Queryable, input: PlanInput, dropped: readonly TableRef[], partitions: readonly TableRef[]): Promise<Current> {
  if (input.initial) return { state: [], recorded: new Set() };
  const options = { manageAll: input.manageAllPolicies };
  if (input.snapshot) {
    const recordedPartitions = tableSet(input.snapshot.partitions);
    const currentPartitions = tableSet(partitions);
    const state = input.snapshot.state.filter((t) => !recordedPartitions.has(tableKey(t.table)) || currentPartitions.has(tableKey(t.table)));
    const recorded = tableSet(state.map((s) => s.table));
    const unrecorded = partitions.filter((t) => !recorded.has(tableKey(t)));
    return { state: [...state, ...(unrecorded.length > 0 ? await readLiveState(db, unrecorded, options) : [])], recorded };
  }
  const entityTables = tableSet(input.entityTables);
  const state = await readLiveState(db, [...input.entityTables, ...partitions, ...dropped.filter((t) => !entityTables.has(tableKey(t)))], options);
  return { state, recorded: new Set() };
}

/**
 * What the policies are probed after: MikroORM's schema statements of this migration, or, when the
 * database is behind the snapshot, the statements that catch it up with the declared schema; nothing for
 * an initial migration of tables that exist already (MikroORM then records the migration as applied).
 */
async function schemaToProbeAfter(db: Queryable, input: PlanInput): Promise<readonly string[]> {
  if (input.initial) {
    const missing = await findMissingTables(db, input.entityTables);
    return missing.length === 0 ? [] : input.schema.up;
  }
  return (input.snapshot && (await input.catchUpSchema?.())) ?? input.schema.up;
}

/**
 * The desired state in the form each table's current state has, for `diffRls`:
 * - compared with the catalog: PostgreSQL's canonical text of every policy (all probed);
 * - compared with the snapshot (or with nothing): the rendered text. A policy whose recorded text differs
 *   only in roles or expressions is probed with its recorded text: when PostgreSQL stores both the same
 *   (formatting, or a new version of this package rendering differently), it counts as unchanged.
 * New and changed policies are probed in any case, so that PostgreSQL refuses a broken one now rather than
 * when the migration runs. Altered tables get all their policies recreated: nothing to compare there.
 */
async function comparableDesired(db: Queryable, input: PlanInput, declared: readonly TableRlsSpec[], current: Current, altered: Set<string>): Promise<TableRlsSpec[]> {
  const currentByTable = byTable(current.state, (t) => t.table);
  const work = declared.map((spec) => {
    const key = tableKey(spec.table);
    const live = currentByTable.get(key);
    if (live && !current.recorded.has(key)) return { spec, canonical: true, probe: [...spec.policies], recorded: [] as PolicySpec[] };
    const before = byName(live?.policies ?? []);
    const probe: PolicySpec[] = [];
    const recorded: PolicySpec[] = [];
    for (const policy of spec.policies) {
      const old = before.get(policy.name);
      const sameKind = old !== undefined && old.command === policy.command && old.permissive === policy.permissive;
      if (sameKind && sameClauses(old, policy)) continue;
      probe.push(policy);
      if (sameKind && !altered.has(key)) recorded.push(specOf(old));
    }
    return { spec, canonical: false, probe, recorded };
  });
  const toProbe = work.filter((w) => w.probe.length > 0).map((w) => ({ ...w.spec, policies: [...w.probe, ...w.recorded] }));
  if (toProbe.length === 0) return [...declared];
  const statements = await schemaToProbeAfter(db, input);
  const probed = byTable(await probeAfterSchema(db, toProbe, { statements, defaultSchema: input.defaultSchema }), (s) => s.table);
  return work.map(({ spec, canonical, probe, recorded }) => {
    const result = probed.get(tableKey(spec.table))?.policies ?? [];
    if (canonical) return { ...spec, policies: result.slice(0, probe.length) };
    const asProbed = new Map(probe.map((p, i) => [p, result[i]]));
    const recordedAsProbed = new Map(recorded.map((p, i) => [p.name, { text: p, canonical: result[probe.length + i] }]));
    const policies = spec.policies.map((policy) => {
      const old = recordedAsProbed.get(policy.name);
      const now = asProbed.get(policy);
      return old && now && sameClauses(old.canonical, now) ? old.text : policy;
    });
    return { ...spec, policies };
  });
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
 * The way down undoes 3, then runs MikroORM's down statements, then undoes 1. RLS is never turned off
 * on a table the same direction drops, nor, on the way down, on one the way up creates (MikroORM's
 * `--initial` down leaves its tables in place): see rls-kept-on-before-drop.ts.
 *
 * Partitions of entity tables get their table's declared state, listed after it (see `coverPartitions`).
 */
export async function planRlsMigration(db: Queryable, input: PlanInput): Promise<RlsPlan> {
  const touched = tablesInSchemaSql(input.schema.up, input.defaultSchema);
  const partitions = await partitionsToCover(db, input, touched.dropped);
  const covered = coverPartitions(input.desired, input.entityTables, partitions);
  const partitionTables = covered.partitions.map((p) => p.table);
  const alteredTables = tableSet(touched.altered);
  const altered = tableSet([...touched.altered, ...partitions.filter((p) => alteredTables.has(tableKey(p.root))).map((p) => p.table)]);
  const droppedTables = tableSet(touched.dropped);
  const current = await currentState(db, input, touched.dropped, partitionTables);
  const comparable = await comparableDesired(db, input, covered.desired, current, altered);
  const comparableByTable = byTable(comparable, (spec) => spec.table);
  const dropFirst: RlsOperation[] = [];
  const remaining: LiveTableState[] = [];
  for (const table of current.state) {
    if (droppedTables.has(tableKey(table.table))) {
      dropFirst.push(...diffRls([], [table]));
    } else if (altered.has(tableKey(table.table))) {
      // Native policies being taken over depend on columns too: dropped first and recreated as ours after.
      const adoptable = comparableByTable.get(tableKey(table.table))?.adoptable ?? [];
      dropFirst.push(...policyOperations(table.table, [], table.policies, adoptable));
      remaining.push({ ...table, policies: table.policies.filter((p) => !p.managed && !adoptable.includes(p.name)) });
    } else {
      remaining.push(table);
    }
  }
  const after = keepRlsOnCreatedTablesOnTheWayDown(diffRls(comparable, remaining), input.schema, input.defaultSchema);
  const before = keepRlsOnDroppedTablesOnTheWayUp(dropFirst, input.schema, input.defaultSchema);
  const reversed = (ops: RlsOperation[]) => [...ops].reverse();
  const up = joinGroups([statementsByTable(before, 'up'), [...input.schema.up], statementsByTable(after, 'up')]);
  const down = joinGroups([statementsByTable(reversed(after), 'down'), [...input.schema.down], statementsByTable(reversed(before), 'down')]);
  return {
    up,
    down,
    migration: migrationStatements({ before, schema: input.schema, after, defaultSchema: input.defaultSchema }, { up, down }),
    operations: [...before, ...after],
    declared: covered.desired,
    partitions: partitionTables,
  };
}

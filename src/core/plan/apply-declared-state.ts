import { findMissingTables, readLiveState, type LivePolicy, type LiveTableState } from '../catalog/live-state';
import { lockBudget, readLockTableSettings } from '../catalog/lock-budget';
import { readPartitions } from '../catalog/partitions';
import { probeInOneMessage } from '../catalog/probe-in-one-message';
import type { Queryable } from '../catalog/queryable';
import { runInOneMessage } from '../catalog/statements-in-one-message';
import type { PolicySpec, TableRlsSpec } from '../ddl/policy-spec';
import { tableLabel, type TableRef } from '../ddl/quote';
import { byName, tableKey } from '../ddl/table-keys';
import { coverPartitions } from '../diff/cover-partitions';
import { diffRls } from '../diff/diff-rls';
import type { RlsOperation } from '../diff/operation';
import { RlsConfigurationError } from '../errors/rls-configuration-error';
import { chunkByLocks } from './chunk-by-locks';
import { chunkStatements, rejectedChunkStatement, type ChunkProgress } from './chunk-statements';
import { groupTables, type TableGroup } from './table-groups';

/** What `createPolicies` / `dropPolicies` bring the database to, on either MikroORM major. */
export interface DeclaredState {
  /** The declared RLS state; `[]` drops every managed policy. */
  readonly desired: readonly TableRlsSpec[];
  /** Every entity table, with or without policies. */
  readonly entityTables: readonly TableRef[];
  readonly manageAllPolicies: boolean;
}

/** Runs `work` in a transaction of its own (committed when it resolves, rolled back when it throws). */
export type InTransaction = <T>(work: (db: Queryable) => Promise<T>) => Promise<T>;

interface Plan {
  readonly groups: TableGroup[];
  readonly budget: number;
}

export interface ApplyOptions {
  /** Locks one transaction may take; by default a quarter of the server's lock table (see `lockBudget`). */
  readonly lockBudget?: number;
}

/**
 * Reads what the plan needs, in one read-only transaction, and checks what can be checked before anything
 * changes: every declared table exists, and no declared policy's name is taken by a policy this package
 * did not create (`diffRls` refuses those). The policies' expressions are not read here (decompiling
 * thousands is slow): each transaction reads those of its tables itself.
 */
async function readPlan(db: Queryable, state: DeclaredState, options: ApplyOptions): Promise<Plan> {
  const missing = await findMissingTables(db, state.desired.map((t) => t.table));
  if (missing.length > 0) {
    throw new RlsConfigurationError(
      `Cannot apply RLS policies: table(s) ${missing.map(tableLabel).join(', ')} do not exist. ` +
        'Create the schema first (orm.schema.create() / createSchema(), or your migrations).',
    );
  }
  const covered = coverPartitions(state.desired, state.entityTables, await readPartitions(db, state.entityTables));
  const live = await readLiveState(db, covered.entityTables, { manageAll: state.manageAllPolicies, expressions: false });
  // The plan as if every live policy's text differed: as many statements as the real one or more.
  const draft = diffRls(covered.desired, live);
  const budget = options.lockBudget ?? lockBudget(await readLockTableSettings(db));
  return { groups: groupTables(covered.desired, live, covered.partitions, draft), budget };
}

/**
 * The live state of the chunk's tables, their policies with their text, read in the chunk's transaction;
 * the flags are those the plan read. The policies that exist already are probed on the way, which gives
 * PostgreSQL's canonical text of their declaration: the probed specs come back with it.
 */
async function readChunk(db: Queryable, chunk: readonly TableGroup[], manageAll: boolean): Promise<{ live: LiveTableState[]; probed: TableRlsSpec[] }> {
  const states = chunk.flatMap((g) => g.live);
  const withPolicies = states.filter((s) => s.policies.length > 0).map((s) => s.table);
  const toProbe = chunk.flatMap((g) => (g.toProbe ? [g.toProbe] : []));
  let policies = new Map<string, readonly LivePolicy[]>();
  let probed: TableRlsSpec[] = [];
  if (toProbe.length > 0) {
    ({ canonical: probed, policies } = await probeInOneMessage(db, toProbe, withPolicies, { manageAll }));
  } else if (withPolicies.length > 0) {
    policies = new Map((await readLiveState(db, withPolicies, { manageAll })).map((s) => [tableKey(s.table), s.policies]));
  }
  return { live: states.map((s) => ({ ...s, policies: policies.get(tableKey(s.table)) ?? [] })), probed };
}

/**
 * One chunk, in the caller's transaction: the live policies read (and those that exist already probed,
 * in one message), then every statement of the chunk's plan in one message.
 */
async function applyChunk(db: Queryable, chunk: readonly TableGroup[], manageAll: boolean, progress: ChunkProgress): Promise<RlsOperation[]> {
  const { live, probed } = await readChunk(db, chunk, manageAll);
  const canonicalByTable = new Map(probed.map((spec) => [tableKey(spec.table), byName(spec.policies)]));
  const desired = chunk.flatMap((group) => {
    const byPolicy = group.desired.length > 0 ? canonicalByTable.get(tableKey(group.desired[0].table)) : undefined;
    // A partition's policies are its table's: PostgreSQL stores the same text on both.
    const canonicalOf = (policy: PolicySpec) => byPolicy?.get(policy.name) ?? policy;
    return group.desired.map((spec) => ({ ...spec, policies: spec.policies.map(canonicalOf) }));
  });
  const operations = diffRls(desired, live);
  await runInOneMessage(db, chunkStatements(operations, desired), rejectedChunkStatement(progress));
  return operations;
}

/**
 * Brings the entity tables and their partitions to `state` and returns the operations it ran. Partitions
 * get their root table's state too: a query that names a partition skips the parent's policies. With
 * policies declared, every table must exist first.
 *
 * The work goes in chunks, each in a transaction of its own (`inTransaction`), so that no transaction
 * locks more than the server's lock table can hold (see `lockBudget`): a chunk holds whole tables, each
 * with its partitions, as many as fit. Checks that need no change (missing tables, names taken by
 * hand-written policies) run before the first chunk. A chunk that fails is rolled back; the chunks before
 * it stay applied, and running again does what is still missing.
 */
export async function applyDeclaredState(inTransaction: InTransaction, state: DeclaredState, options: ApplyOptions = {}): Promise<RlsOperation[]> {
  const plan = await inTransaction((db) => readPlan(db, state, options));
  const chunks = chunkByLocks(plan.groups, (group) => group.locks, plan.budget);
  const tablesIn = (chunk: readonly TableGroup[]) => chunk.reduce((sum, group) => sum + group.tables, 0);
  const total = chunks.reduce((sum, chunk) => sum + tablesIn(chunk), 0);
  const operations: RlsOperation[] = [];
  let applied = 0;
  for (const chunk of chunks) {
    const progress: ChunkProgress = { tables: total, applied, inChunk: tablesIn(chunk) };
    operations.push(...(await inTransaction((db) => applyChunk(db, chunk, state.manageAllPolicies, progress))));
    applied += progress.inChunk;
  }
  return operations;
}

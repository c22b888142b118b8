import { findMissingTables, POLCMD_COMMANDS, readLiveState, type LivePolicy, type LiveTableState } from '../catalog/live-state';
import { lockBudget, readLockTableSettings } from '../catalog/lock-budget';
import { readPartitions } from '../catalog/partitions';
import { fingerprintKey, provenUnchanged, readFingerprints, writeFingerprintsSql, type FingerprintRow } from '../catalog/policy-fingerprint';
import { probeInOneMessage, tablesNamed } from '../catalog/probe-in-one-message';
import type { Queryable } from '../catalog/queryable';
import { postgresDetail, sqlStateOf } from '../catalog/refused-statement';
import { postgresMessage, runInOneMessage } from '../catalog/statements-in-one-message';
import type { PolicySpec, TableRlsSpec } from '../ddl/policy-spec';
import { qualifiedTable, tableLabel, type TableRef } from '../ddl/quote';
import { commentPolicySql, MANAGED_POLICY_COMMENT } from '../ddl/statements';
import { byName, groupBy, tableKey, tableSet } from '../ddl/table-keys';
import { coverPartitions } from '../diff/cover-partitions';
import { diffRls } from '../diff/diff-rls';
import type { RlsOperation } from '../diff/operation';
import { RlsConfigurationError } from '../errors/rls-configuration-error';
import { chunkByLocks } from './chunk-by-locks';
import { chunkError, chunkStatements, deferredUntilSettled, refusedChunkStatement } from './chunk-statements';
import { runChunks } from './run-chunks';
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
  /** Locks one transaction may take; by default a quarter of the server's lock table, shared by the transactions running at once (see `lockBudget`). */
  readonly lockBudget?: number;
  /** Transactions run side by side, each on a connection of the pool; {@link CHUNKS_AT_ONCE} by default. */
  readonly chunksAtOnce?: number;
}

/**
 * Two chunk transactions at once: PostgreSQL runs a chunk's DDL on one core, and the client's work
 * between two messages leaves the server idle; with two, the DDL of 1,000 fresh tables took about two
 * thirds of the time (bench/results/ddl.md). A pool of one connection runs them one after the other.
 */
export const CHUNKS_AT_ONCE = 2;

/**
 * The chunk transactions an ORM whose pool holds at most `poolMax` connections runs at once: never more
 * than its pool holds, so that no chunk waits for a connection another chunk holds (a slow chunk would
 * make it run out the pool's acquire timeout).
 */
export const chunksAtOnceFor = (poolMax: number | undefined): number => Math.max(1, Math.min(CHUNKS_AT_ONCE, poolMax ?? CHUNKS_AT_ONCE));

// SQLSTATEs two chunks side by side can cause each other: deadlock_detected, lock_not_available (a lock timeout).
const LOCK_CONFLICTS = new Set(['40P01', '55P03']);
const isLockConflict = (error: unknown) => LOCK_CONFLICTS.has(sqlStateOf(error) ?? sqlStateOf((error as { cause?: unknown } | null)?.cause) ?? '');

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
  const budget = options.lockBudget ?? lockBudget(await readLockTableSettings(db), options.chunksAtOnce ?? CHUNKS_AT_ONCE);
  return { groups: groupTables(covered.desired, live, covered.partitions, draft), budget };
}

/** Every declared policy of the chunk, on each table (a partition gets its root's), as rendered. */
const declaredPolicies = (chunk: readonly TableGroup[]) => chunk.flatMap((g) => g.desired.flatMap((spec) => spec.policies.map((policy) => ({ table: spec.table, policy }))));

/**
 * The live state of the chunk's tables, their policies with their text, read in the chunk's transaction;
 * the flags are those the plan read. First, one cheap query reads the fingerprints (see
 * policy-fingerprint.ts): a policy they prove unchanged is neither probed nor decompiled, and a table whose
 * policies are all proven is not read again. The policies that exist already and are not proven are probed
 * on the way, which gives PostgreSQL's canonical text of their declaration: the probed specs come back with it.
 */
async function readChunk(db: Queryable, chunk: readonly TableGroup[], manageAll: boolean): Promise<{ live: LiveTableState[]; probed: TableRlsSpec[]; proven: Set<string> }> {
  const states = chunk.flatMap((g) => g.live);
  const withPolicies = states.filter((s) => s.policies.length > 0).map((s) => s.table);
  const rows = await readFingerprints(db, withPolicies);
  const proven = provenUnchanged(declaredPolicies(chunk), rows);
  const unproven = (table: TableRef, name: string) => !proven.has(fingerprintKey(table, name));
  const toRead = tableSet(rows.filter((r) => unproven({ schema: r.schema, name: r.table }, r.name)).map((r) => ({ schema: r.schema, name: r.table })));
  const toProbe = chunk.flatMap((g) => {
    // A policy stays probed while any table of its group (a partition) holds it unproven.
    const policies = g.toProbe?.policies.filter((p) => g.live.some((s) => toRead.has(tableKey(s.table)) && s.policies.some((l) => l.name === p.name) && unproven(s.table, p.name))) ?? [];
    return g.toProbe && policies.length > 0 ? [{ ...g.toProbe, policies }] : [];
  });
  const read = withPolicies.filter((t) => toRead.has(tableKey(t)));
  let policies = new Map<string, readonly LivePolicy[]>();
  let probed: TableRlsSpec[] = [];
  if (toProbe.length > 0) {
    // Held to the end of the chunk's transaction: the probe's own locks go with its savepoint, and a
    // policy edited between the probe and the fingerprints written after it would be fingerprinted as
    // the probe found it. ACCESS SHARE is enough: ALTER, CREATE and DROP POLICY need ACCESS EXCLUSIVE.
    const lock = `lock table ${read.map((table) => `only ${qualifiedTable(table)}`).join(', ')} in access share mode`;
    await db.query(lock).catch((error: unknown) => {
      throw deferredUntilSettled(
        (after) =>
          new RlsConfigurationError(
            `Locking ${tablesNamed(read)} in ACCESS SHARE mode (so that no other session changes their policies while they are probed) failed: ` +
              `${postgresMessage(error, lock)}${postgresDetail(error)}.${after}`,
            { cause: error },
          ),
        error,
      );
    });
    ({ canonical: probed, policies } = await probeInOneMessage(db, toProbe, read, { manageAll, rejected: deferredUntilSettled }));
  } else if (read.length > 0) {
    policies = new Map((await readLiveState(db, read, { manageAll })).map((s) => [tableKey(s.table), s.policies]));
  }
  const rowsByTable = groupBy(rows, (r) => tableKey({ schema: r.schema, name: r.table }));
  for (const table of withPolicies.filter((t) => !toRead.has(tableKey(t)))) policies.set(tableKey(table), provenPolicies(rowsByTable.get(tableKey(table)) ?? []));
  return { live: states.map((s) => ({ ...s, policies: policies.get(tableKey(s.table)) ?? [] })), probed, proven };
}

/** The live policies of a table whose policies are all proven, from its fingerprint rows: their text is the declaration's, filled in by {@link asDeclared}. */
function provenPolicies(rows: readonly FingerprintRow[]): LivePolicy[] {
  return rows.map((r) => ({ name: r.name, permissive: r.permissive, command: POLCMD_COMMANDS[r.cmd], roles: r.roles, using: null, withCheck: null, managed: true, comment: r.comment }));
}

/** The live state with each proven policy saying what its declaration says: the fingerprint proved they are the same. */
function asDeclared(live: readonly LiveTableState[], desired: readonly TableRlsSpec[], proven: Set<string>): LiveTableState[] {
  const declared = new Map(desired.flatMap((spec) => spec.policies.map((p) => [fingerprintKey(spec.table, p.name), p] as const)));
  return live.map((state) => ({
    ...state,
    policies: state.policies.map((p) => {
      const policy = proven.has(fingerprintKey(state.table, p.name)) ? declared.get(fingerprintKey(state.table, p.name)) : undefined;
      return policy ? { ...p, roles: policy.roles, using: policy.using, withCheck: policy.withCheck } : p;
    }),
  }));
}

/**
 * One chunk, in the caller's transaction: the live policies read (and those that exist already and are not
 * proven unchanged probed, in one message), then every statement of the chunk's plan in one message, then
 * the fingerprints of every declared policy not proven (created, altered, or found equal by a probe, so
 * that the next run needs no probe for it either), written by the server in the same message.
 */
async function applyChunk(db: Queryable, chunk: readonly TableGroup[], manageAll: boolean): Promise<RlsOperation[]> {
  const { live, probed, proven } = await readChunk(db, chunk, manageAll);
  const canonicalByTable = new Map(probed.map((spec) => [tableKey(spec.table), byName(spec.policies)]));
  const desired = chunk.flatMap((group) => {
    const byPolicy = group.desired.length > 0 ? canonicalByTable.get(tableKey(group.desired[0].table)) : undefined;
    // A partition's policies are its table's: PostgreSQL stores the same text on both.
    const canonicalOf = (policy: PolicySpec) => byPolicy?.get(policy.name) ?? policy;
    return group.desired.map((spec) => ({ ...spec, policies: spec.policies.map(canonicalOf) }));
  });
  const operations = diffRls(desired, asDeclared(live, desired, proven));
  const toFingerprint = declaredPolicies(chunk).filter(({ table, policy }) => !proven.has(fingerprintKey(table, policy.name)));
  // The plain marker the operations write on a declared policy is replaced by its fingerprint right after,
  // in the same transaction: not sent, which spares PostgreSQL one COMMENT per created policy.
  const replaced = new Set(toFingerprint.map(({ table, policy }) => commentPolicySql(table, policy.name, MANAGED_POLICY_COMMENT)));
  const fingerprints = writeFingerprintsSql(toFingerprint);
  // In the chunk's message, before RLS is switched on (with it on, each COMMENT reloads the table's policies).
  const extra = fingerprints ? [{ sql: fingerprints, table: toFingerprint[0].table }] : [];
  await runInOneMessage(db, chunkStatements(operations, desired, extra).filter((s) => !replaced.has(s.sql)), refusedChunkStatement);
  return operations;
}

/**
 * Brings the entity tables and their partitions to `state` and returns the operations it ran. Partitions
 * get their root table's state too: a query that names a partition skips the parent's policies. With
 * policies declared, every table must exist first.
 *
 * The work goes in chunks, each in a transaction of its own (`inTransaction`), so that no transaction
 * locks more than the server's lock table can hold (see `lockBudget`): a chunk holds whole tables, each
 * with its partitions, as many as fit; {@link CHUNKS_AT_ONCE} of them run at once. Checks that need no
 * change (missing tables, names taken by hand-written policies) run before the first chunk. A chunk that
 * fails is rolled back and no chunk starts after it; the chunks that committed stay applied, and running
 * again does what is still missing.
 */
export async function applyDeclaredState(inTransaction: InTransaction, state: DeclaredState, options: ApplyOptions = {}): Promise<RlsOperation[]> {
  const plan = await inTransaction((db) => readPlan(db, state, options));
  const chunks = chunkByLocks(plan.groups, (group) => group.locks, plan.budget);
  const tablesIn = (chunk: readonly TableGroup[]) => chunk.reduce((sum, group) => sum + group.tables, 0);
  const runs = await runChunks(chunks, (chunk) => inTransaction((db) => applyChunk(db, chunk, state.manageAllPolicies)), options.chunksAtOnce ?? CHUNKS_AT_ONCE, isLockConflict);
  if (runs.failed) {
    const applied = runs.completed.reduce((sum, run) => sum + tablesIn(run.chunk), 0);
    throw chunkError(runs.failed.error, { tables: chunks.reduce((sum, chunk) => sum + tablesIn(chunk), 0), applied, inChunk: tablesIn(runs.failed.chunk) });
  }
  return runs.completed.flatMap((run) => run.result);
}

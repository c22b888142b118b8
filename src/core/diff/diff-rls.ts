import type { LivePolicy, LiveTableState } from '../catalog/live-state';
import type { PolicySpec, TableRlsSpec } from '../ddl/policy-spec';
import { tableLabel, type TableRef } from '../ddl/quote';
import {
  alterPolicySql,
  commentPolicySql,
  createPolicySql,
  dropPolicySql,
  forceRowLevelSecuritySql,
  MANAGED_POLICY_COMMENT,
  rowLevelSecuritySql,
} from '../ddl/statements';
import type { RlsOperation } from './operation';
import { RlsConfigurationError } from '../errors/rls-configuration-error';
import { byName, byTable, tableKey, tableSet } from '../ddl/table-keys';

const sameRoles = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().every((r, i) => r === [...b].sort()[i]);

function createStatements(table: TableRef, policy: PolicySpec): string[] {
  return [createPolicySql(table, policy), commentPolicySql(table, policy.name, MANAGED_POLICY_COMMENT)];
}

function restoreStatements(table: TableRef, policy: LivePolicy): string[] {
  const create = createPolicySql(table, policy);
  const comment = policy.managed ? MANAGED_POLICY_COMMENT : (policy.comment ?? null);
  return comment === null ? [create] : [create, commentPolicySql(table, policy.name, comment)];
}

/**
 * Operations on one table's policies only (no RLS flags); with `desired = []`, drops every managed one.
 * `adoptable` (see `TableRlsSpec.adoptable`) names live policies to take over although this package did
 * not create them: MikroORM 7's native RLS did, from the same declaration.
 */
export function policyOperations(table: TableRef, desired: readonly PolicySpec[], live: readonly LivePolicy[], adoptable: readonly string[] = []): RlsOperation[] {
  const ops: RlsOperation[] = [];
  const adopt = new Set(adoptable);
  const owned = (p: LivePolicy) => p.managed || adopt.has(p.name);
  const desiredByName = byName(desired);
  const liveByName = byName(live);
  for (const current of live) {
    if (owned(current) && !desiredByName.has(current.name)) {
      ops.push({
        table,
        description: `drop policy ${current.name}`,
        up: [dropPolicySql(table, current.name)],
        down: restoreStatements(table, current),
      });
    }
  }
  for (const policy of desired) {
    const current = liveByName.get(policy.name);
    if (!current) {
      ops.push({ table, description: `create policy ${policy.name}`, up: createStatements(table, policy), down: [dropPolicySql(table, policy.name)] });
      continue;
    }
    if (!owned(current)) {
      throw new RlsConfigurationError(
        `A policy named "${policy.name}" already exists on ${tableLabel(table)} but was not created by mikro-orm-rls. ` +
          'Rename the declared policy (customPolicyName) or drop the existing one.',
      );
    }
    if (current.command !== policy.command || current.permissive !== policy.permissive) {
      ops.push({
        table,
        description: `replace policy ${policy.name} (command or permissive/restrictive changed)`,
        up: [dropPolicySql(table, policy.name), ...createStatements(table, policy)],
        down: [dropPolicySql(table, policy.name), ...restoreStatements(table, current)],
      });
    } else {
      const altered = !sameRoles(current.roles, policy.roles) || current.using !== policy.using || current.withCheck !== policy.withCheck;
      // Taking over a native policy: the marker comment says this package manages it from now on.
      const adopted = !current.managed;
      if (!altered && !adopted) continue;
      const description = [altered ? `alter policy ${policy.name}` : '', adopted ? `adopt policy ${policy.name} (created by MikroORM's native RLS)` : ''].filter(Boolean).join(', ');
      ops.push({
        table,
        description,
        up: [...(altered ? [alterPolicySql(table, policy)] : []), ...(adopted ? [commentPolicySql(table, policy.name, MANAGED_POLICY_COMMENT)] : [])],
        down: [...(adopted ? [commentPolicySql(table, policy.name, current.comment ?? null)] : []), ...(altered ? [alterPolicySql(table, current)] : [])],
      });
    }
  }
  return ops;
}

function flagOperations(table: TableRef, want: { enabled: boolean; forced: boolean }, live?: LiveTableState): RlsOperation[] {
  const ops: RlsOperation[] = [];
  const enabled = live?.enabled ?? false;
  const forced = live?.forced ?? false;
  if (want.enabled !== enabled) {
    ops.push({
      table,
      description: `${want.enabled ? 'enable' : 'disable'} row level security`,
      up: [rowLevelSecuritySql(table, want.enabled)],
      down: [rowLevelSecuritySql(table, enabled)],
    });
  }
  if (want.forced !== forced) {
    ops.push({
      table,
      description: `${want.forced ? 'force' : 'no force'} row level security`,
      up: [forceRowLevelSecuritySql(table, want.forced)],
      down: [forceRowLevelSecuritySql(table, forced)],
    });
  }
  return ops;
}

/**
 * Compares the desired RLS state (policies already canonicalised by PostgreSQL) with the live one and
 * returns the operations that turn one into the other, each with its exact inverse.
 *
 * Policies not created by this package are never touched. A table that no longer declares policies
 * loses the managed ones, and RLS is switched off there unless hand-written policies remain.
 */
export function diffRls(desired: readonly TableRlsSpec[], live: readonly LiveTableState[]): RlsOperation[] {
  const ops: RlsOperation[] = [];
  const liveByTable = byTable(live, (t) => t.table);
  const desiredTables = tableSet(desired.map((s) => s.table));
  for (const spec of desired) {
    const current = liveByTable.get(tableKey(spec.table));
    ops.push(...flagOperations(spec.table, { enabled: true, forced: spec.force }, current));
    ops.push(...policyOperations(spec.table, spec.policies, current?.policies ?? [], spec.adoptable));
  }
  for (const current of live) {
    if (desiredTables.has(tableKey(current.table))) continue;
    ops.push(...policyOperations(current.table, [], current.policies));
    if (current.policies.every((p) => p.managed)) {
      ops.push(...flagOperations(current.table, { enabled: false, forced: false }, current));
    }
  }
  return ops;
}

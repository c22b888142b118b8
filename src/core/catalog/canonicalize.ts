import type { PolicySpec, TableRlsSpec } from '../ddl/policy-spec';
import { createPolicySql } from '../ddl/statements';
import { qualifiedTable, type TableRef } from '../ddl/quote';
import { readLiveState, type LivePolicy } from './live-state';
import type { Queryable } from './queryable';
import { refusedStatementError } from './refused-statement';

const PROBE_PREFIX = 'mikro_orm_rls_probe_';

/** The name the `i`-th policy of a table is probed under. */
export const probeName = (i: number): string => `${PROBE_PREFIX}${i}`;

/**
 * `spec` with PostgreSQL's canonical text for each policy, from `probes`, the policies read back from the
 * table (or copy) its policies were probed on under {@link probeName}s; what was rendered is kept.
 */
export function canonicalFromProbes(spec: TableRlsSpec, probes: readonly LivePolicy[] | undefined): TableRlsSpec {
  const policies = spec.policies.map((policy, i): PolicySpec => {
    const probe = probes?.find((p) => p.name === probeName(i));
    if (!probe) throw new Error(`Internal error: probe for policy ${policy.name} was not found.`);
    const rendered = { roles: policy.roles, using: policy.using, withCheck: policy.withCheck };
    return { ...policy, roles: probe.roles, using: probe.using, withCheck: probe.withCheck, rendered };
  });
  return { ...spec, policies };
}

/**
 * Asks PostgreSQL how it would store the desired policies: each is created under a probe name inside a
 * savepoint, read back with `pg_get_expr`, and rolled back. Comparing these texts with the catalog is
 * exact: a changed cast or precedence shows up, while mere formatting differences do not.
 *
 * Must run inside a transaction; the tables must exist. Nothing is left behind.
 */
export async function canonicalizeSpecs(
  db: Queryable,
  specs: readonly TableRlsSpec[],
  options: { onTemporaryCopies?: boolean } = {},
): Promise<TableRlsSpec[]> {
  const withPolicies = specs.filter((s) => s.policies.length > 0);
  if (withPolicies.length === 0) return [...specs];
  await db.query('savepoint mikro_orm_rls_canonicalize');
  try {
    // Probes go on the tables themselves (needs their owner), or on temporary copies of their columns,
    // which any role with TEMP may create: the stored text of an expression is the same on both.
    const targets = new Map<TableRlsSpec, TableRef>();
    for (const [t, spec] of withPolicies.entries()) {
      if (!options.onTemporaryCopies) {
        targets.set(spec, spec.table);
        continue;
      }
      await db.query(`create temporary table "${PROBE_PREFIX}table_${t}" (like ${qualifiedTable(spec.table)})`);
      const [{ schema }] = await db.query<{ schema: string }>('select nspname as schema from pg_namespace where oid = pg_my_temp_schema()');
      targets.set(spec, { schema, name: `${PROBE_PREFIX}table_${t}` });
    }
    for (const spec of withPolicies) {
      for (const [i, policy] of spec.policies.entries()) {
        const probe = createPolicySql(targets.get(spec)!, { ...policy, name: probeName(i) });
        try {
          await db.query(probe);
        } catch (error) {
          // Drivers often prefix the message with the statement, which names the probe: keep PostgreSQL's words.
          const message = (error as Error).message.replace(`${probe} - `, '');
          throw refusedStatementError({ sql: probe, table: spec.table, policy: policy.name }, error, message);
        }
      }
    }
    const live = await readLiveState(db, [...targets.values()]);
    return specs.map((spec) => {
      const target = targets.get(spec);
      const table = live.find((t) => target && t.table.schema === target.schema && t.table.name === target.name);
      return canonicalFromProbes(spec, table?.policies);
    });
  } finally {
    await db.query('rollback to savepoint mikro_orm_rls_canonicalize');
    await db.query('release savepoint mikro_orm_rls_canonicalize');
  }
}

import type { PolicySpec, TableRlsSpec } from '../ddl/policy-spec';
import { createPolicySql, rowLevelSecuritySql } from '../ddl/statements';
import { qualifiedTable, tableLabel, type TableRef } from '../ddl/quote';
import { readLiveState } from './live-state';
import type { Queryable } from './queryable';
import { refusedStatementError, refusedStatementsError } from './refused-statement';
import { runInOneMessage } from './statements-in-one-message';

const PROBE_PREFIX = 'mikro_orm_rls_probe_';

/**
 * Asks PostgreSQL how it would store the desired policies: each is created under a probe name inside a
 * savepoint, read back with `pg_get_expr`, and rolled back. Comparing these texts with the catalog is
 * exact: a changed cast or precedence shows up, while mere formatting differences do not.
 *
 * Must run inside a transaction; the tables must exist. Nothing is left behind. With `inOneMessage`, the
 * probes go to PostgreSQL in one message (see {@link runInOneMessage}) instead of one each.
 */
export async function canonicalizeSpecs(
  db: Queryable,
  specs: readonly TableRlsSpec[],
  options: { onTemporaryCopies?: boolean; inOneMessage?: boolean } = {},
): Promise<TableRlsSpec[]> {
  const withPolicies = specs.filter((s) => s.policies.length > 0);
  if (withPolicies.length === 0) return [...specs];
  await db.query('savepoint mikro_orm_rls_canonicalize');
  let failed = false;
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
    const probes = withPolicies.flatMap((spec) =>
      spec.policies.map((policy, i) => ({ spec, policy, sql: createPolicySql(targets.get(spec)!, { ...policy, name: `${PROBE_PREFIX}${i}` }) })),
    );
    if (options.inOneMessage) {
      // With RLS on, PostgreSQL parses every policy of a table each time it reloads the table's
      // definition, which it does after each probe and to read one back: switched off first (until the
      // rollback below), the probes and their reading take about half the time. Temporary copies have no RLS.
      const unflagged = options.onTemporaryCopies ? [] : withPolicies.map((spec) => ({ table: spec.table, sql: rowLevelSecuritySql(spec.table, false) }));
      const tried = probes.map((p) => ({ table: p.spec.table, policy: p.policy.name, sql: p.sql }));
      await runInOneMessage(db, [...unflagged, ...tried], (statement, error, message) =>
        statement ? refusedStatementError(statement, error, message) : refusedStatementsError(`Trying the declared policies of ${tablesNamed(withPolicies)}`, error, message),
      );
    } else {
      for (const probe of probes) {
        try {
          await db.query(probe.sql);
        } catch (error) {
          // Drivers often prefix the message with the statement, which names the probe: keep PostgreSQL's words.
          const message = (error as Error).message.replace(`${probe.sql} - `, '');
          throw refusedStatementError({ table: probe.spec.table, policy: probe.policy.name, sql: probe.sql }, error, message);
        }
      }
    }
    const live = await readLiveState(db, [...targets.values()]);
    return specs.map((spec) => {
      const target = targets.get(spec);
      const table = live.find((t) => target && t.table.schema === target.schema && t.table.name === target.name);
      const policies = spec.policies.map((policy, i): PolicySpec => {
        const probe = table?.policies.find((p) => p.name === `${PROBE_PREFIX}${i}`);
        if (!probe) throw new Error(`Internal error: probe for policy ${policy.name} was not found.`);
        const rendered = { roles: policy.roles, using: policy.using, withCheck: policy.withCheck };
        return { ...policy, roles: probe.roles, using: probe.using, withCheck: probe.withCheck, rendered };
      });
      return { ...spec, policies };
    });
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    try {
      if (options.inOneMessage) {
        await db.query('rollback to savepoint mikro_orm_rls_canonicalize;\nrelease savepoint mikro_orm_rls_canonicalize');
      } else {
        await db.query('rollback to savepoint mikro_orm_rls_canonicalize');
        await db.query('release savepoint mikro_orm_rls_canonicalize');
      }
    } catch (error) {
      // After a failed probe, the probe's error is the one thrown: this one follows from it (the
      // connection it broke), and the caller's transaction is rolled back either way.
      if (!failed) throw error;
    }
  }
}

/** The tables, for a message: the first three and how many more. */
function tablesNamed(specs: readonly TableRlsSpec[]): string {
  const tables = specs.map((s) => tableLabel(s.table));
  return tables.length > 3 ? `${tables.slice(0, 3).join(', ')} and ${tables.length - 3} more tables` : tables.join(', ');
}

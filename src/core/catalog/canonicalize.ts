import type { PolicySpec, TableRlsSpec } from '../ddl/policy-spec';
import { createPolicySql } from '../ddl/statements';
import { qualifiedTable, tableLabel, type TableRef } from '../ddl/quote';
import { readLiveState } from './live-state';
import type { Queryable } from './queryable';
import { RlsConfigurationError } from '../errors/rls-configuration-error';
import { RlsDeclarationError } from '../errors/rls-declaration-error';

const PROBE_PREFIX = 'mikro_orm_rls_probe_';

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
        const probe = createPolicySql(targets.get(spec)!, { ...policy, name: `${PROBE_PREFIX}${i}` });
        try {
          await db.query(probe);
        } catch (error) {
          // Drivers often prefix the message with the statement, which names the probe: keep PostgreSQL's words.
          const message = (error as Error).message.replace(`${probe} - `, '');
          if ((error as { code?: string }).code === '42501') {
            throw new RlsConfigurationError(
              `Cannot manage policies on ${tableLabel(spec.table)}: ${message}. Policies can only be created by the table's ` +
                'owner or a superuser: run createPolicies (or migrations) with the owner role, not the application role.',
              { cause: error },
            );
          }
          throw new RlsDeclarationError(
            `PostgreSQL rejected policy "${policy.name}" on ${tableLabel(spec.table)}: ${message}. ` +
              'Check its expression (customExpr / withCheck) and its roles (to).',
            { cause: error },
          );
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
  } finally {
    await db.query('rollback to savepoint mikro_orm_rls_canonicalize');
    await db.query('release savepoint mikro_orm_rls_canonicalize');
  }
}

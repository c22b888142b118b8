import type { PolicySpec, TableRlsSpec } from '../ddl/policy-spec';
import { createPolicySql } from '../ddl/statements';
import { tableLabel } from '../ddl/quote';
import { readLiveState } from './live-state';
import type { Queryable } from './queryable';

const PROBE_PREFIX = 'mikro_orm_rls_probe_';

/**
 * Asks PostgreSQL how it would store the desired policies: each is created under a probe name inside a
 * savepoint, read back with `pg_get_expr`, and rolled back. Comparing these texts with the catalog is
 * exact: a changed cast or precedence shows up, while mere formatting differences do not.
 *
 * Must run inside a transaction; the tables must exist. Nothing is left behind.
 */
export async function canonicalizeSpecs(db: Queryable, specs: readonly TableRlsSpec[]): Promise<TableRlsSpec[]> {
  const withPolicies = specs.filter((s) => s.policies.length > 0);
  if (withPolicies.length === 0) return [...specs];
  await db.query('savepoint mikro_orm_rls_canonicalize');
  try {
    for (const spec of withPolicies) {
      for (const [i, policy] of spec.policies.entries()) {
        const probe = createPolicySql(spec.table, { ...policy, name: `${PROBE_PREFIX}${i}` });
        try {
          await db.query(probe);
        } catch (error) {
          // Drivers often prefix the message with the statement, which names the probe: keep PostgreSQL's words.
          const message = (error as Error).message.replace(`${probe} - `, '');
          if ((error as { code?: string }).code === '42501') {
            throw new Error(
              `Cannot manage policies on ${tableLabel(spec.table)}: ${message}. Policies can only be created by the table's ` +
                'owner or a superuser: run createPolicies (or migrations) with the owner role, not the application role.',
              { cause: error },
            );
          }
          throw new Error(
            `PostgreSQL rejected policy "${policy.name}" on ${tableLabel(spec.table)}: ${message}. ` +
              'Check its expression (customExpr / withCheck) and its roles (to).',
            { cause: error },
          );
        }
      }
    }
    const live = await readLiveState(db, withPolicies.map((s) => s.table));
    return specs.map((spec) => {
      const table = live.find((t) => t.table.schema === spec.table.schema && t.table.name === spec.table.name);
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

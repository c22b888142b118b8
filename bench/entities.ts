import { defineEntity } from '@mikro-orm/core';
import { Command, ConditionArg, Permissive, column, sql } from '../src';

// Two tables with the same columns, indexes and rows: `bench_items` under a tenant policy, and
// `bench_plain_items` without RLS, which the baseline filters by tenant in the query itself.

/** The request context: one variable, so the hand-written pattern (d) needs one `set_config` too. */
export const tenantId = ConditionArg({ comparatorName: 'tenant_id', type: 'integer' });

// The same columns and index on both tables.
const shape = {
  indexes: [{ properties: ['tenantId', 'id'] as ('tenantId' | 'id')[] }],
  properties: (p: typeof defineEntity.properties) => ({
    id: p.integer().primary().autoincrement(),
    tenantId: p.integer(),
    title: p.string(),
    qty: p.integer(),
  }),
};

export const Item = defineEntity({
  name: 'Item',
  tableName: 'bench_items',
  ...shape,
  rls: {
    policies: [
      Permissive({
        conditionArgs: [tenantId],
        cmd: Command.all,
        customExpr: (id) => sql`${column('tenant_id')} = ${id}`,
        customPolicyName: 'same_tenant',
      }),
    ],
  },
});

export const PlainItem = defineEntity({ name: 'PlainItem', tableName: 'bench_plain_items', ...shape });

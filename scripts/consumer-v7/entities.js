// Copied into the MikroORM 7 consumer project by scripts/consumer-test-v7.mjs: the entity the CLI and the
// isolation script see. RLS_CONSUMER_STAGE=changed gives the policy the change of the migration ladder
// (a second condition), everything else the initial declaration.
import { defineEntity } from '@mikro-orm/core';
import { Command, ConditionArg, Permissive, column, sql } from 'mikro-orm-rls';

const tenantId = ConditionArg({ comparatorName: 'tenant_id', type: 'integer' });
const changed = process.env.RLS_CONSUMER_STAGE === 'changed';

export const Note = defineEntity({
  name: 'Note',
  tableName: 'notes',
  properties: (p) => ({
    id: p.integer().primary(),
    tenantId: p.integer(),
    body: p.string(),
  }),
  rls: {
    policies: [
      Permissive({
        conditionArgs: [tenantId],
        cmd: Command.all,
        customPolicyName: 'tenant',
        customExpr: changed ? (t) => sql`${column('tenant_id')} = ${t} and ${column('body')} <> ''` : (t) => sql`${column('tenant_id')} = ${t}`,
      }),
    ],
  },
});

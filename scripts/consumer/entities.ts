// Copied into the consumer project by scripts/consumer-test.mjs: the entity the MikroORM CLI sees.
import { defineEntity } from '@mikro-orm/core';
import { Command, ConditionArg, Permissive } from 'mikro-orm-rls';

const tenantId = ConditionArg({ comparatorName: 'tenant_id', type: 'integer' });

export const Note = defineEntity({
  name: 'Note',
  tableName: 'notes',
  properties: (p) => ({
    id: p.integer().primary(),
    tenantId: p.integer(),
    body: p.string(),
  }),
  rls: { policies: [Permissive({ conditionArgs: [tenantId], cmd: Command.all })] },
});

// Copied into the consumer project by scripts/consumer-test.mjs: a CommonJS user, an entity declared
// with defineEntity, the library loaded with require.   node tenant-isolation.cjs <database id>
'use strict';
const { defineEntity } = require('@mikro-orm/core');
const rls = require('mikro-orm-rls');
const { proveTenantIsolation } = require('./isolation-check.cjs');

const tenantId = rls.ConditionArg({ comparatorName: 'tenant_id', type: 'integer' });

const Note = defineEntity({
  name: 'Note',
  tableName: 'notes',
  properties: (p) => ({
    id: p.integer().primary(),
    tenantId: p.integer(),
    body: p.string(),
  }),
  // Default expression: each condition arg's column (tenant_id) equals the context's value.
  rls: { policies: [rls.Permissive({ conditionArgs: [tenantId], cmd: rls.Command.all })] },
});

proveTenantIsolation({ rls, Note, id: process.argv[2], label: 'CommonJS (require, defineEntity)' }).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});

// Copied into the consumer project by scripts/consumer-test.mjs: an ES module user, an entity declared
// with EntitySchema, the library loaded with import.   node tenant-isolation.mjs <database id>
import { EntitySchema } from '@mikro-orm/core';
import * as rls from 'mikro-orm-rls';
import { Command, ConditionArg, Permissive, column, sql } from 'mikro-orm-rls';
import isolation from './isolation-check.cjs';

const tenantId = ConditionArg({ comparatorName: 'tenant_id', type: 'integer' });

const Note = new EntitySchema({
  name: 'Note',
  tableName: 'notes',
  properties: {
    id: { type: 'number', primary: true },
    tenantId: { type: 'number' },
    body: { type: 'string' },
  },
  rls: {
    policies: [
      Permissive({ conditionArgs: [tenantId], cmd: Command.all, customExpr: (t) => sql`${column('tenant_id')} = ${t}`, customPolicyName: 'tenant' }),
    ],
  },
});

// Top-level await: an ES module may wait here; the ORMs are closed inside, so the process exits.
await isolation.proveTenantIsolation({ rls, Note, id: process.argv[2], label: 'ES module (import, EntitySchema)' });

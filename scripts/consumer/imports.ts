// Copied into the consumer project by scripts/consumer-test.mjs, as imports.ts and, for the module
// settings with ES modules in Node (node16, nodenext), also as imports.mts. `tsc --noEmit` must accept it
// under every setting: the root and each subpath resolve to the package's declarations.
import type { Request } from 'express';
import { Command, ConditionArg, Permissive, createPolicies, withRls, type RlsOptions } from 'mikro-orm-rls';
import { rlsMiddleware, type RlsRequestOptions } from 'mikro-orm-rls/express';
import { rlsPlugin, type RlsPluginOptions } from 'mikro-orm-rls/fastify';
import { RlsModule, type RlsModuleOptions } from 'mikro-orm-rls/nestjs';

/** `true` for a real type, `false` for `any`, which an import whose declarations were not found becomes. */
type Resolved<T> = 0 extends 1 & T ? false : true;

export const resolved: [
  Resolved<typeof withRls>,
  Resolved<typeof createPolicies>,
  Resolved<RlsOptions>,
  Resolved<typeof rlsMiddleware>,
  Resolved<RlsRequestOptions<Request, { tenant_id: number }>>,
  Resolved<typeof rlsPlugin>,
  Resolved<RlsPluginOptions>,
  Resolved<typeof RlsModule>,
  Resolved<RlsModuleOptions>,
] = [true, true, true, true, true, true, true, true, true];

const tenantId = ConditionArg({ comparatorName: 'tenant_id', type: 'integer' });
export const policy = Permissive({ conditionArgs: [tenantId], cmd: Command.all });

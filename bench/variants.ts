import type { EntityName } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { RlsEntityManager } from '../src';
import { Item, PlainItem } from './entities';

/** Where a workload reads and writes: the entity, and the tenant filter it must write itself (if any). */
export interface Target {
  readonly entity: EntityName<ItemRow>;
  readonly tenantId: number;
  /** `{ tenantId }` for the baseline, `{}` where the policy filters. */
  readonly filter: { tenantId?: number };
}

export interface ItemRow {
  id: number;
  tenantId: number;
  title: string;
  qty: number;
}

/** The ORMs of a run: plain MikroORM, and MikroORM with `withRls`; same pool size, same role. */
export interface Orms {
  plain: MikroORM;
  rls: MikroORM & { em: RlsEntityManager };
  /** `rls` again, its messages sent without the session reset (see without-session-reset.ts): measurement only. */
  rlsWithoutReset: MikroORM & { em: RlsEntityManager };
}

/** A way to run a request, on the ORMs `O` of a run (this file's `Orms`, or bench/v7's). */
export interface VariantOf<O> {
  readonly id: string;
  readonly label: string;
  /** Runs one request's `body` the way this variant scopes it. */
  run(orms: O, tenantId: number, body: (em: EntityManager, target: Target) => Promise<unknown>): Promise<unknown>;
}

export type Variant = VariantOf<Orms>;

export const plainTarget = (tenantId: number): Target => ({ entity: PlainItem as never, tenantId, filter: { tenantId } });
export const policyTarget = (tenantId: number): Target => ({ entity: Item as never, tenantId, filter: {} });

export const VARIANTS: readonly Variant[] = [
  {
    id: 'a',
    label: 'baseline: plain MikroORM, table without RLS, tenant in the WHERE',
    run: (orms, tenantId, body) => body(orms.plain.em.fork(), plainTarget(tenantId)),
  },
  {
    id: 'b',
    label: 'forkWithRls, no explicit transaction',
    run: (orms, tenantId, body) => body(orms.rls.em.forkWithRls({ tenant_id: tenantId }), policyTarget(tenantId)),
  },
  {
    id: 'c',
    label: 'forkWithRls inside one em.transactional per request',
    run: (orms, tenantId, body) => orms.rls.em.forkWithRls({ tenant_id: tenantId }).transactional((em) => body(em, policyTarget(tenantId))),
  },
  {
    id: 'd',
    label: 'by hand: em.transactional + em.execute(set_config) per variable',
    run: (orms, tenantId, body) =>
      orms.plain.em.fork().transactional(async (em) => {
        await em.execute(`select set_config('rls.tenant_id', ?, true)`, [String(tenantId)]);
        return body(em, policyTarget(tenantId));
      }),
  },
  {
    id: 'a+tx',
    label: 'reference: the baseline inside one em.transactional per request',
    run: (orms, tenantId, body) => orms.plain.em.fork().transactional((em) => body(em, plainTarget(tenantId))),
  },
];

/**
 * (b) and (c) once more, on an ORM whose messages go out without the session reset (the statements that
 * put back the role and the context variables after each scoped message and COMMIT). Not a way to use
 * the library: measured beside (b) and (c) only, so that what the reset costs is a number of its own.
 */
export const WITHOUT_RESET: readonly (Variant & { readonly of: string })[] = [
  {
    id: 'b-reset',
    of: 'b',
    label: '(b) with the session reset taken off the wire (measurement only)',
    run: (orms, tenantId, body) => body(orms.rlsWithoutReset.em.forkWithRls({ tenant_id: tenantId }), policyTarget(tenantId)),
  },
  {
    id: 'c-reset',
    of: 'c',
    label: '(c) with the session reset taken off the wire (measurement only)',
    run: (orms, tenantId, body) => orms.rlsWithoutReset.em.forkWithRls({ tenant_id: tenantId }).transactional((em) => body(em, policyTarget(tenantId))),
  },
];

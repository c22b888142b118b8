import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { RlsEntityManager } from '../../src';
import { plainTarget, policyTarget, type VariantOf } from '../variants';

// The MikroORM 7 variants (bench/v7/main.ts runs them on Node 22 against v7/node_modules; this file's
// types are MikroORM 6's, which the root tsconfig checks the bench against: the one MikroORM 7 only
// option used here, `session` of em.fork, is typed by hand below).

/** The ORMs of the MikroORM 7 part: plain MikroORM 7, and MikroORM 7 with `withRls`; same pool, same role. */
export interface Orms7 {
  plain: MikroORM;
  rls: MikroORM & { em: RlsEntityManager };
}

/** MikroORM 7's native session context on a fork (core EntityManager `ForkOptions.session`). */
interface NativeSessionFork {
  fork(options: { session: { variables: Record<string, string> } }): EntityManager;
}

/** The policy of bench/entities.ts reads this variable (the package's default prefix, then the condition arg). */
const TENANT_VARIABLE = 'rls.tenant_id';

export const V7_BASELINE = 'a7';
export const V7_NATIVE = 'n7';

export interface V7Variant extends VariantOf<Orms7> {
  /** The unscoped variant of the same transaction shape (with or without em.transactional). */
  readonly sameShape: string;
  /** The native session context variant of the same transaction shape. */
  readonly nativeOfSameShape: string;
}

const nativeFork = (orms: Orms7, tenantId: number) =>
  (orms.plain.em as unknown as NativeSessionFork).fork({ session: { variables: { [TENANT_VARIABLE]: String(tenantId) } } });

export const V7_VARIANTS: readonly V7Variant[] = [
  {
    id: V7_BASELINE,
    sameShape: V7_BASELINE,
    nativeOfSameShape: V7_NATIVE,
    label: 'MikroORM 7 baseline: plain MikroORM 7, table without RLS, tenant in the WHERE',
    run: (orms, tenantId, body) => body(orms.plain.em.fork(), plainTarget(tenantId)),
  },
  {
    id: V7_NATIVE,
    // Native wraps every call in a transaction of its own; what a user writes has none.
    sameShape: V7_BASELINE,
    nativeOfSameShape: V7_NATIVE,
    label: "MikroORM 7 native session context: em.fork({ session: { variables } }), sessionContext 'transaction' (the default)",
    run: (orms, tenantId, body) => body(nativeFork(orms, tenantId), policyTarget(tenantId)),
  },
  {
    id: 'n7+tx',
    sameShape: 'a7+tx',
    nativeOfSameShape: 'n7+tx',
    label: 'MikroORM 7 native session context inside one em.transactional per request (the variables set once, after BEGIN)',
    run: (orms, tenantId, body) => nativeFork(orms, tenantId).transactional((em) => body(em, policyTarget(tenantId))),
  },
  {
    id: 'b7',
    sameShape: V7_BASELINE,
    nativeOfSameShape: V7_NATIVE,
    label: 'MikroORM 7: forkWithRls, no explicit transaction',
    run: (orms, tenantId, body) => body(orms.rls.em.forkWithRls({ tenant_id: tenantId }), policyTarget(tenantId)),
  },
  {
    id: 'c7',
    sameShape: 'a7+tx',
    nativeOfSameShape: 'n7+tx',
    label: 'MikroORM 7: forkWithRls inside one em.transactional per request',
    run: (orms, tenantId, body) => orms.rls.em.forkWithRls({ tenant_id: tenantId }).transactional((em) => body(em, policyTarget(tenantId))),
  },
  {
    id: 'a7+tx',
    sameShape: 'a7+tx',
    nativeOfSameShape: 'n7+tx',
    label: 'MikroORM 7 reference: the baseline inside one em.transactional per request',
    run: (orms, tenantId, body) => orms.plain.em.fork().transactional((em) => body(em, plainTarget(tenantId))),
  },
];

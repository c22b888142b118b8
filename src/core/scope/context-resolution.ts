import type { EntityManager } from '@mikro-orm/core';
import type { RlsScope } from './rls-scope';
import { sameScope } from './scope-identity';

// The request context manager that was current when each manager was forked. For a transaction's
// manager (MikroORM forks one per transaction), that is the request context it was started under.
const FORKED_UNDER = new WeakMap<EntityManager, EntityManager | undefined>();

/** Remembers which request context manager was current when `fork` was made. */
export function rememberForkedUnder<EM extends EntityManager>(fork: EM, request: EntityManager | undefined): EM {
  FORKED_UNDER.set(fork, request);
  return fork;
}

export interface ContextCandidates<EM extends EntityManager> {
  /** The manager asking (`orm.em`, a request context's manager, a fork made with `useContext`). */
  readonly self: EM;
  /** The manager of the transaction the code runs in (MikroORM's TransactionContext), if any. */
  readonly transaction?: EM;
  /** The manager of the request context the code runs in (MikroORM's RequestContext), if any. */
  readonly request?: EM;
  readonly scopeOf: (em: EM) => RlsScope | undefined;
}

/**
 * The manager whose scope a contextual call runs with. MikroORM prefers the transaction over the
 * request context, which is right when the transaction was started inside the request context. It is
 * wrong when the request context was made inside a transaction of another scope (a tenant's request
 * context inside `bypassRls(cb)`, or inside another tenant's transaction): then the request context is
 * the innermost and wins. And a scoped manager never resolves to a manager of another scope: it stays
 * itself. With equal scopes, MikroORM's choice stands (the transaction, for its uncommitted writes).
 */
export function resolveContext<EM extends EntityManager>({ self, transaction, request, scopeOf }: ContextCandidates<EM>): EM {
  let em = transaction ?? request ?? self;
  if (
    transaction &&
    request &&
    transaction !== request &&
    FORKED_UNDER.get(transaction) !== request &&
    !sameScope(scopeOf(transaction), scopeOf(request))
  ) {
    em = request;
  }
  const own = scopeOf(self);
  if (own && em !== self && !sameScope(own, scopeOf(em))) em = self;
  return em;
}

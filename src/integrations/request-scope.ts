import type { MikroORM } from '@mikro-orm/core';
import { RlsContextError } from '../core/errors/rls-context-error';
import type { RlsEntityManagerLike } from '../core/adapter/rls-entity-manager-like';
import { RlsMissingContextError } from '../core/errors/rls-missing-context-error';
import { RlsSessioner, type ContextGetter } from '../core/sessioner/rls-sessioner';

/**
 * What the Express middleware and the Fastify plugin take: the ORM, how to build a request's context,
 * and the status of a refusal.
 *
 * @example
 * interface AuthenticatedRequest { accountId?: number }
 * const options: RlsRequestOptions<AuthenticatedRequest, { account_id: number }> = {
 *   orm,
 *   context: (req) => (req.accountId === undefined ? undefined : { account_id: req.accountId }),
 *   status: 403,
 * };
 */
export interface RlsRequestOptions<Request, Context extends object> {
  /** The ORM, initialised with `withRls(...)`. */
  readonly orm: MikroORM;
  /** Builds the context from the request (e.g. from the authenticated user); return `undefined` when there is none. */
  readonly context: ContextGetter<[Request], Context>;
  /** Status for a request whose context cannot be built (missing or invalid). Default 401. */
  readonly status?: number;
}

/**
 * The answer for a request that cannot be scoped (its context getter returned nothing, or a context
 * that fails the schema): sent as the response's status and JSON body; the database is never touched
 * for it.
 *
 * @example
 * const refusal: RlsRefusal = {
 *   status: 401,
 *   body: { error: 'rls_context_required', message: 'No RLS context could be built for this call (the context getter returned nothing); no query was run.' },
 * };
 */
export interface RlsRefusal {
  readonly status: number;
  readonly body: { readonly error: string; readonly message: string };
}

export type RequestScope<Context extends object> =
  | { readonly em: RlsEntityManagerLike<Context>; readonly refusal?: undefined }
  | { readonly em?: undefined; readonly refusal: RlsRefusal };

/**
 * Turns a request into a scoped fork, or into a refusal when no valid context can be built from it.
 * Errors other than a missing or invalid context (a bug in the getter, say) are rethrown for the
 * framework's own error handling.
 */
export function createRequestScoper<Request, Context extends object>(options: RlsRequestOptions<Request, Context>) {
  const sessioner = new RlsSessioner<[Request], Context>(options.orm, options.context);
  const status = options.status ?? 401;
  return async (request: Request): Promise<RequestScope<Context>> => {
    try {
      return { em: await sessioner.fork(request) };
    } catch (error) {
      if (error instanceof RlsMissingContextError || error instanceof RlsContextError) {
        return { refusal: { status, body: { error: 'rls_context_required', message: error.message } } };
      }
      throw error;
    }
  };
}

import type { MikroORM } from '@mikro-orm/core';
import { RlsContextError } from '../core/errors/rls-context-error';
import type { RlsEntityManagerLike } from '../core/adapter/rls-entity-manager-like';
import { RlsMissingContextError } from '../core/errors/rls-missing-context-error';
import { RlsSessioner, type ContextGetter } from '../core/sessioner/rls-sessioner';

/** What every framework integration takes. */
export interface RlsRequestOptions<Request, Context extends object> {
  /** The ORM, initialised with `withRls(...)`. */
  readonly orm: MikroORM;
  /** Builds the context from the request (e.g. from the authenticated user); return `undefined` when there is none. */
  readonly context: ContextGetter<[Request], Context>;
  /** Status for a request whose context cannot be built (missing or invalid). Default 401. */
  readonly status?: number;
}

/** The answer for a request that cannot be scoped: the database is never touched for it. */
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

import type { IncomingMessage } from 'node:http';
import type { MiddlewareConsumer } from '@nestjs/common';
import type { ContextGetter } from '../../core/sessioner/rls-sessioner';

/**
 * A route for Nest's `exclude`: a path, or `{ path, method }` (Nest does not export its RouteInfo type).
 *
 * @example
 * const exclude: RlsExcludedRoute[] = ['health', { path: 'admin/{*path}', method: RequestMethod.ALL }];
 */
export type RlsExcludedRoute = Parameters<ReturnType<MiddlewareConsumer['apply']>['exclude']>[number];

/**
 * Options of `RlsModule.forRoot`. The ORM is not among them: it is the one `MikroOrmModule` provides.
 *
 * @example
 * const options: RlsModuleOptions<Request> = { context: (req) => { const id = accountIdOf(req); return id === undefined ? undefined : { account_id: id }; }, exclude: ['health'] };
 * RlsModule.forRoot(options);
 */
export interface RlsModuleOptions<Request = IncomingMessage, Context extends object = object> {
  /** Builds the context from the request (e.g. from the authenticated user); return `undefined` when there is none. */
  readonly context: ContextGetter<[Request], Context>;
  /** Status for a request whose context cannot be built (missing or invalid). Default 401. */
  readonly status?: number;
  /**
   * Routes the middleware leaves alone (Nest's `exclude` syntax), e.g. health checks, or admin routes
   * that use `bypassRls()` explicitly. Their EntityManager is MikroORM's plain request fork, which
   * sees no row of an RLS table.
   */
  readonly exclude?: readonly RlsExcludedRoute[];
}

/** Injection token of the options given to `RlsModule.forRoot` (internal: read by the module and its middleware). */
export const RLS_MODULE_OPTIONS = Symbol('mikro-orm-rls module options');

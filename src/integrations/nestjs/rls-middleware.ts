import { MikroORM, RequestContext } from '@mikro-orm/core';
import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import { createRequestScoper, type RequestScope } from '../request-scope';
import { RLS_MODULE_OPTIONS, type RlsModuleOptions } from './rls-module-options';

/** What the middleware needs of the response: the Express platform's `res`. */
interface JsonResponse {
  status(code: number): { json(body: unknown): unknown };
}

/**
 * Nest middleware (internal), applied to every route by `RlsModule`: builds the RLS context from the request and
 * makes the request's EntityManager (MikroORM's `RequestContext`, which the `EntityManager` injected into
 * services resolves through) a fork scoped to it. A request whose context cannot be built is answered
 * with 401 (or `status`) and never reaches the database.
 */
@Injectable()
export class RlsMiddleware implements NestMiddleware<unknown, JsonResponse> {
  private readonly scope: (request: unknown) => Promise<RequestScope<object>>;

  constructor(orm: MikroORM, @Inject(RLS_MODULE_OPTIONS) options: RlsModuleOptions<unknown>) {
    // Built once, when the application starts (app.init/listen), which therefore fails for an ORM not
    // initialised with withRls() rather than serving unscoped requests.
    this.scope = createRequestScoper({ orm, context: options.context, status: options.status });
  }

  use(req: unknown, res: JsonResponse, next: (error?: unknown) => void): void {
    this.scope(req).then(({ em, refusal }) => {
      if (refusal) {
        res.status(refusal.status).json(refusal.body);
        return;
      }
      // Nested inside @mikro-orm/nestjs's own RequestContext (or around it: its fork of `orm.em` forks
      // the current context's manager, which keeps the scope), so the innermost context is scoped.
      RequestContext.create(em, next);
    }, next);
  }
}

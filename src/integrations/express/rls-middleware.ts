import { RequestContext } from '@mikro-orm/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createRequestScoper, type RlsRequestOptions } from '../request-scope';

/**
 * Express middleware: builds the RLS context from each request and makes the request's EntityManager
 * (MikroORM's `RequestContext`, so `orm.em` in handlers) a fork scoped to it. A request whose context
 * cannot be built is answered with 401 (or `status`) and never reaches the database.
 *
 * @example
 * // accountIdOf: your authentication, returning the caller's account id or undefined
 * app.use(rlsMiddleware({ orm, context: (req) => { const id = accountIdOf(req); return id === undefined ? undefined : { account_id: id }; } }));
 * app.get('/items', async (_req, res) => { res.json(await orm.em.find(Item, {})); });
 *
 * @throws {RlsConfigurationError} when created for an ORM not set up with `withRls`.
 */
export function rlsMiddleware<Context extends object>(options: RlsRequestOptions<Request, Context>): RequestHandler {
  const scope = createRequestScoper(options);
  return (req: Request, res: Response, next: NextFunction) => {
    scope(req).then(({ em, refusal }) => {
      if (refusal) {
        res.status(refusal.status).json(refusal.body);
        return;
      }
      RequestContext.create(em, next);
    }, next);
  };
}

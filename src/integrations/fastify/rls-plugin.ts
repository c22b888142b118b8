import { RequestContext } from '@mikro-orm/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createRequestScoper, type RlsRequestOptions } from '../request-scope';

/**
 * Options of {@link rlsPlugin}: the ORM, the context getter (it receives the Fastify request) and the refusal status.
 *
 * @example
 * const options: RlsPluginOptions = { orm, context: (request) => { const id = accountIdOf(request); return id === undefined ? undefined : { account_id: id }; }, status: 403 };
 * await app.register(rlsPlugin, options);
 */
export type RlsPluginOptions<Context extends object = object> = RlsRequestOptions<FastifyRequest, Context>;

async function rlsPluginFunction(app: FastifyInstance, options: RlsPluginOptions): Promise<void> {
  const scope = createRequestScoper(options);
  // onRequest runs before the body is read, so a refused request costs neither parsing nor SQL. The
  // callback form matters: `done` runs inside RequestContext.create, and Fastify continues the request's
  // lifecycle (body parsing included, through its AsyncResource) from there, so the handler sees the fork.
  app.addHook('onRequest', (request, reply, done) => {
    scope(request).then(({ em, refusal }) => {
      if (refusal) {
        // Answering from the hook ends the request; calling done() as well would run the handler.
        reply.code(refusal.status).send(refusal.body);
        return;
      }
      RequestContext.create(em, done);
    }, done);
  });
}

/**
 * Fastify plugin: builds the RLS context from each request and makes the request's EntityManager
 * (MikroORM's `RequestContext`, so `orm.em` in handlers) a fork scoped to it. A request whose context
 * cannot be built is answered with 401 (or `status`) and never reaches the database.
 *
 * The plugin skips Fastify's encapsulation (as `fastify-plugin` would), so its hook covers the context it is
 * registered in, child plugins included: register it at the root, before the routes, for the whole app, or
 * inside a plugin to cover only that plugin's routes (and keep e.g. admin routes outside it).
 *
 * @example
 * // accountIdOf: your authentication, returning the caller's account id or undefined
 * await app.register(rlsPlugin, { orm, context: (request) => { const id = accountIdOf(request); return id === undefined ? undefined : { account_id: id }; } });
 * app.get('/items', async () => orm.em.find(Item, {}));
 *
 * @throws {RlsConfigurationError} from `register`, when the ORM was not set up with `withRls`.
 */
export const rlsPlugin = Object.assign(rlsPluginFunction, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'mikro-orm-rls',
});

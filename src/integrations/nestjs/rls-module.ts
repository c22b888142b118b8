import { EntityManager, MikroORM } from '@mikro-orm/core';
import { Global, Inject, Module, RequestMethod, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { activeRlsAdapter } from '../../core/adapter/active-adapter';
import { RlsMiddleware } from './rls-middleware';
import { RLS_MODULE_OPTIONS, type RlsModuleOptions } from './rls-module-options';

/**
 * Scopes every request of a Nest application (Express platform) to its RLS context. Import it next to
 * `MikroOrmModule.forRoot(withRls(...))`; services keep injecting `EntityManager`, which inside a request
 * is the scoped fork. It also provides `RlsEntityManager` (the same global manager, typed with
 * `forkWithRls` and `bypassRls`) to every module.
 *
 * @example
 * \@Module({
 *   imports: [
 *     MikroOrmModule.forRoot(withRls({ driver: PostgreSqlDriver, clientUrl, entities }, { bypassRole: 'app_bypass' })),
 *     RlsModule.forRoot({ context: (req: Request) => { const id = accountIdOf(req); return id === undefined ? undefined : { account_id: id }; } }),
 *   ],
 * })
 * export class AppModule {}
 *
 * \@Injectable()
 * export class ItemService {
 *   constructor(private readonly em: RlsEntityManager) {}
 *   list() {
 *     return this.em.find(Item, {}); // inside a request: its scoped fork
 *   }
 * }
 *
 * @throws {RlsConfigurationError} when the application starts (`app.init()`, `listen()`) with an
 * ORM not set up with `withRls`; from `forRoot` when the package's root (the adapter) is not loaded.
 */
@Global()
@Module({})
export class RlsModule implements NestModule {
  constructor(@Inject(RLS_MODULE_OPTIONS) private readonly options: RlsModuleOptions<unknown>) {}

  /**
   * The module, configured: how to build a request's context, the refusal status, excluded routes.
   *
   * @example
   * RlsModule.forRoot({
   *   context: (req: Request) => { const id = accountIdOf(req); return id === undefined ? undefined : { account_id: id }; },
   *   status: 403,
   *   exclude: ['admin/{*path}'],
   * });
   *
   * @throws {RlsConfigurationError} when no adapter of this package is loaded (the `mikro-orm-rls/nestjs`
   * entry loads it).
   */
  static forRoot<Request = IncomingMessage, Context extends object = object>(options: RlsModuleOptions<Request, Context>): DynamicModule {
    // The entity manager class of the MikroORM major in use, which the adapter registered when loaded.
    const adapter = activeRlsAdapter();
    const RlsEntityManager = adapter.entityManagerClass;
    const unprovided = adapter.unprovidedEntityManagerClasses ?? [];
    return {
      module: RlsModule,
      global: true,
      providers: [
        { provide: RLS_MODULE_OPTIONS, useValue: options },
        // The global manager, which resolves the request's fork; typed, unlike MikroORM's EntityManager token.
        { provide: RlsEntityManager, useFactory: (orm: MikroORM) => orm.em, inject: [MikroORM] },
        // MikroORM's own EntityManager provider under the tokens its NestJS module no longer provides
        // (an alias, so MikroOrmModule's scope, request-scoped forks included, holds for them too).
        ...unprovided.map((token) => ({ provide: token, useFactory: (em: EntityManager) => em, inject: [EntityManager] })),
      ],
      exports: [RlsEntityManager, ...unprovided],
    };
  }

  /** Called by Nest: applies the middleware to every route but the excluded ones. */
  configure(consumer: MiddlewareConsumer): void {
    // '*' is "every route" for Nest 10 and, converted to '{*path}' (the root path included), for Nest 11.
    consumer
      .apply(RlsMiddleware)
      .exclude(...(this.options.exclude ?? []))
      .forRoutes({ path: '*', method: RequestMethod.ALL });
  }
}

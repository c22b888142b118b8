import { TransactionContext, TransactionPropagation, ValidationError, type ConnectionType, type EntityManager, type EntityData, type EntityName, type ForkOptions, type LoggingOptions, type UpsertManyOptions, type UpsertOptions } from '@mikro-orm/core';
import { EntityManager as SqlEntityManager, type PostgreSqlDriver, type QueryBuilder } from '@mikro-orm/postgresql';
import { bypassInTransaction } from './bypass-in-transaction';
import { rememberForkedUnder, resolveContext } from '../../../core/scope/context-resolution';
import { refuseInvisibleFlushWrites } from './invisible-flush-writes';
import { RLS_ENTITY_MANAGER } from '../../../core/adapter/rls-entity-manager-like';
import { RlsAdapterAssumptionError } from '../../../core/errors/rls-adapter-assumption-error';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';
import type { RlsScope } from '../../../core/scope/rls-scope';
import { scopeIdentity } from '../../../core/scope/scope-identity';
import { scopeDriver, scopeOf } from '../wire/scoped-driver';

/**
 * Fork options that make sense for a scoped fork: it never joins the parent's transaction, and always
 * starts with an empty identity map (`clear: false` would hand it entities loaded under another scope).
 *
 * @example
 * const options: RlsForkOptions = { flushMode: FlushMode.COMMIT, useContext: true };
 * const scoped = orm.em.forkWithRls({ account_id: 42 }, options);
 */
export type RlsForkOptions = Omit<ForkOptions, 'disableContextResolution' | 'keepTransactionContext' | 'clear'>;

/**
 * Options of `bypassRls(callback, options)`.
 *
 * @example
 * const options: RlsBypassOptions = { propagation: 'nested' };
 * await em.transactional((tx) => tx.bypassRls((admin) => admin.nativeUpdate(Stock, { sku }, { reservedBy: 1 }), options));
 */
export interface RlsBypassOptions {
  /**
   * `'requires_new'` (default): the callback runs in a transaction of its own. `'nested'`: in a savepoint
   * of the caller's transaction, switched to the bypass role for the callback only (see `bypassRls`).
   * The step commits or rolls back its savepoint itself: a callback that ends it (`admin.commit()`) is
   * refused, and a step that cannot be undone rolls the caller's transaction back; do not go on with a
   * transaction whose nested step failed.
   */
  readonly propagation?: TransactionPropagation.REQUIRES_NEW | TransactionPropagation.NESTED | 'requires_new' | 'nested';
}

/**
 * The EntityManager installed by `withRls()`. `forkWithRls(ctx)` returns a fork whose every query runs
 * in a transaction opened with the context's session variables; `bypassRls()` one whose transactions
 * switch to the bypass role. Forks of these forks, their `transactional()` forks and a `RequestContext`
 * around them keep the scope, because it lives in the fork's driver, which MikroORM hands down.
 *
 * @example
 * const orm = await MikroORM.init(withRls(config));
 * const em: RlsEntityManager = orm.em;
 * const scoped = em.forkWithRls({ account_id: 42 });
 * const mine = await scoped.find(Item, {}); // only the rows the policies give account 42
 * const all = await em.bypassRls((admin) => admin.count(Item)); // every row, as the bypass role
 *
 * @throws {RlsContextError} from `forkWithRls` for an invalid context; see its other errors there
 * and at `bypassRls`.
 * @throws {RlsAdapterAssumptionError} from `forkWithRls` and `bypassRls` when MikroORM's `fork()` no
 * longer builds the fork the way the adapter relies on.
 */
export class RlsEntityManager<Context extends object = Record<string, unknown>> extends SqlEntityManager<PostgreSqlDriver> {
  // Every manager, forks included, is built here, each with its own UnitOfWork.
  constructor(...args: ConstructorParameters<typeof SqlEntityManager<PostgreSqlDriver>>) {
    super(...args);
    refuseInvisibleFlushWrites(this);
  }

  /** Marks this as an RLS entity manager for the layers above the adapter (see `isRlsEntityManager`). */
  get [RLS_ENTITY_MANAGER](): true {
    return true;
  }

  /**
   * A fork scoped to `context`, validated first: invalid input throws {@link RlsContextError} and sends
   * no SQL. The fork starts with an empty identity map and never joins a transaction of this manager:
   * `clear: false` is refused with {@link RlsConfigurationError}, since it would copy entities loaded
   * under this manager's scope into the fork, readable without a query. With `useContext: true`, the
   * fork resolves to the request context or transaction it runs in only when they have its context.
   *
   * Each transaction of the fork begins with one statement that sets the context's fields as
   * transaction-local settings, its values written in as escaped literals (by MikroORM's quoting), sent
   * in the same message as the transaction's first statement. A query outside a transaction is sent
   * behind the same statement, in one message, which PostgreSQL runs as one implicit transaction.
   *
   * @example
   * const em = orm.em.forkWithRls({ account_id: 42 });
   * const items = await em.find(Item, {}); // only what the policies let account 42 see
   * // sent before the query, in the same message:
   * // select pg_catalog.set_config('rls.account_id', '42', true)
   *
   * @throws {RlsContextError} when `context` fails the context schema (no SQL is sent).
   * @throws {RlsConfigurationError} for `clear: false`, an ORM not set up with `withRls`, and, on
   * the fork's first query of each connection (with `strict`, the default), a connection role that is a
   * superuser, has BYPASSRLS or owns an RLS table without FORCE, or a pool without the pool guard.
   * @throws {RlsViolationError} from the fork's writes that a policy refuses.
   * @throws {RlsInvisibleRowError} from the fork's flushes that reach a row it cannot see, with
   * `refuseInvisibleWrites`.
   * @throws {RlsScopeEscapeError} from raw SQL of the fork that leaves a transaction open (`BEGIN`).
   * @throws {RlsTransactionStartError} from a statement sent while the transaction's failing first
   * statement was in flight.
   * @throws {RlsAdapterAssumptionError} when MikroORM's `fork()` did not build the fork with the scoped
   * driver (a MikroORM release changed it): refused rather than run unscoped.
   */
  forkWithRls(context: Context, options?: RlsForkOptions): this {
    const encoded = rlsSettingsOf(this.config).codec.encode(context);
    return this.forkScoped({ kind: 'context', statement: rlsSettingsOf(this.config).codec.statement, ...encoded, context: encoded.data }, options);
  }

  /**
   * A fork whose transactions run as the configured bypass role (BYPASSRLS), for admin work. With a
   * callback, runs it in one transaction of such a fork and returns its result. Never affects this
   * manager, its other forks, or the pooled connection afterwards. The fork starts with an empty
   * identity map; what it loads is never merged into this manager.
   *
   * By default (`propagation: 'requires_new'`) the callback runs in a transaction of its own, on another
   * pooled connection, even when called inside a transaction: it does not see the caller's uncommitted
   * writes, and waits, possibly forever, for rows the caller's transaction has locked. For an admin step
   * that must be atomic with the caller's transaction, pass `propagation: 'nested'` (MikroORM's
   * meaning: a savepoint in the current transaction): the callback runs in a savepoint of the caller's
   * transaction switched to the bypass role, sees its uncommitted writes, and its own writes commit or
   * roll back with it. The switch ends with the callback, whether it returns or throws (a throw also
   * rolls back the callback's writes, as a failed nested `transactional()` does). While the callback
   * runs, the caller's transaction refuses statements sent outside the callback's EntityManager. Outside
   * any transaction, `'nested'` runs the callback in a transaction of its own, as MikroORM does.
   *
   * Each transaction of the fork begins with `select pg_catalog.set_config('role', <bypass role>, true)`,
   * the role name written in as an escaped literal, in the same message as its first statement.
   *
   * @example
   * const total = await orm.em.bypassRls((em) => em.count(Item));
   *
   * await em.transactional(async (tx) => {
   *   const order = tx.create(Order, { sku, account: 42 });
   *   await tx.flush();
   *   // Same transaction, sees the uncommitted order: SAVEPOINT trx2;
   *   // select before.previous, pg_catalog.set_config('role', 'app_bypass', true) as role from (...) as before; update "stock" ...;
   *   // select pg_catalog.set_config('role', '<previous>', true); RELEASE SAVEPOINT trx2
   *   await tx.bypassRls((admin) => admin.nativeUpdate(Stock, { sku }, { reservedBy: order.id }), { propagation: 'nested' });
   * });
   * // With bypassRole: 'app_bypass', each transaction of a bypass fork begins with:
   * // select pg_catalog.set_config('role', 'app_bypass', true)
   *
   * @throws {RlsConfigurationError} when `withRls` was given no `bypassRole`, for a `propagation`
   * other than `'requires_new'` and `'nested'`, for `clear: false`; on the fork's first query of each
   * connection, as for `forkWithRls`.
   * @throws {RlsScopeEscapeError} from raw SQL of the fork that leaves a transaction open (`BEGIN`).
   * @throws {RlsInvisibleRowError} from the fork's flushes that reach no row, with `refuseInvisibleWrites`.
   * @throws {RlsAdapterAssumptionError} as for `forkWithRls`.
   */
  bypassRls(): this;
  bypassRls<T>(callback: (em: this) => T | Promise<T>, options?: RlsBypassOptions): Promise<T>;
  bypassRls<T>(callback?: (em: this) => T | Promise<T>, options: RlsBypassOptions = {}): this | Promise<T> {
    const role = rlsSettingsOf(this.config).bypassRole;
    if (!role) {
      throw new RlsConfigurationError(
        'bypassRls() needs a bypass role. Create one as a superuser: CREATE ROLE app_bypass NOLOGIN BYPASSRLS; ' +
          'GRANT app_bypass TO <application role>; grant it the table privileges the admin work needs; then pass ' +
          "withRls(options, { bypassRole: 'app_bypass' }).",
      );
    }
    const propagation = options.propagation ?? TransactionPropagation.REQUIRES_NEW;
    if (propagation !== TransactionPropagation.REQUIRES_NEW && propagation !== TransactionPropagation.NESTED) {
      throw new RlsConfigurationError(
        `bypassRls(cb, { propagation: ${JSON.stringify(propagation)} }) is not supported: use 'requires_new' (the default: a transaction ` +
          "of its own) or 'nested' (a savepoint in the caller's transaction, undone if the callback throws).",
      );
    }
    const caller = this.getContext(false);
    const fork = this.forkScoped({ kind: 'bypass', role }, { clear: (options as ForkOptions).clear } as RlsForkOptions);
    if (!callback) return fork;
    if (propagation === TransactionPropagation.NESTED && caller.isInTransaction()) return bypassInTransaction(caller, fork, role, callback);
    return fork.transactional((em) => callback(em));
  }

  /**
   * The validated context this manager's queries run with, if it is a `forkWithRls` fork (as the schema
   * parsed it); `undefined` otherwise.
   *
   * @example
   * orm.em.forkWithRls({ account_id: 42 }).rlsContext; // { account_id: 42 }
   */
  get rlsContext(): Readonly<Context> | undefined {
    const scope = scopeOf(this.getContext(false).driver);
    return scope?.kind === 'context' ? (scope.context as Readonly<Context>) : undefined;
  }

  /**
   * Whether this manager's queries run as the bypass role.
   *
   * @example
   * orm.em.bypassRls().isRlsBypassed; // true
   */
  get isRlsBypassed(): boolean {
    return scopeOf(this.getContext(false).driver)?.kind === 'bypass';
  }

  // The global EntityManager resolves a request's fork through `getContext()` in most methods, but a few
  // use its own driver directly. Delegate those so `orm.em` inside `RequestContext.create(scopedFork, ...)`
  // is scoped on every path.

  /**
   * The manager a contextual call runs with (see {@link resolveContext}): MikroORM's choice, except that
   * code in a request context made from a scoped fork runs with that fork's scope even inside a
   * transaction of another scope, and a scoped fork never resolves to a manager of another scope.
   * @internal
   */
  override getContext(validate = true): this {
    if (!this.useContext) return this;
    const em = resolveContext({
      self: this,
      // MikroORM finds both by the ORM's name alone ('default' unless contextName is set): a transaction
      // or request context of another ORM with the same name would run this ORM's queries on that ORM's
      // connections and forks, outside this ORM's scoping. Only this ORM's own managers count.
      transaction: this.ofThisOrm(TransactionContext.getEntityManager(this.name)),
      request: this.ofThisOrm(this.config.get('context')(this.name)),
      scopeOf: (candidate) => scopeOf(candidate.driver),
    });
    if (validate && !this.config.get('allowGlobalContext') && em.global) throw ValidationError.cannotUseGlobalContext();
    return em;
  }

  private ofThisOrm(candidate: EntityManager | undefined): this | undefined {
    return candidate?.config === this.config ? (candidate as this) : undefined;
  }

  override fork(options?: ForkOptions): this {
    return rememberForkedUnder(super.fork(options), this.config.get('context')(this.name));
  }

  override getDriver(): PostgreSqlDriver {
    const em = this.getContext(false);
    return em === this ? this.driver : em.getDriver();
  }

  override getConnection(type?: ConnectionType): ReturnType<PostgreSqlDriver['getConnection']> {
    return this.getDriver().getConnection(type);
  }

  override createQueryBuilder<Entity extends object, RootAlias extends string = never>(
    entityName: EntityName<Entity> | QueryBuilder<Entity>,
    alias?: RootAlias,
    type?: ConnectionType,
    loggerContext?: LoggingOptions,
  ): QueryBuilder<Entity, RootAlias> {
    const em = this.getContext(false);
    return em === this
      ? super.createQueryBuilder(entityName, alias, type, loggerContext)
      : em.createQueryBuilder(entityName, alias, type, loggerContext);
  }

  override upsert<Entity extends object, Fields extends string = any>(
    entityNameOrEntity: EntityName<Entity> | Entity,
    data?: EntityData<Entity> | Entity,
    options?: UpsertOptions<Entity, Fields>,
  ): Promise<Entity> {
    const em = this.getContext(false);
    return em === this ? super.upsert(entityNameOrEntity, data, options) : em.upsert(entityNameOrEntity, data, options);
  }

  override upsertMany<Entity extends object, Fields extends string = any>(
    entityNameOrEntity: EntityName<Entity> | Entity[],
    data?: (EntityData<Entity> | Entity)[],
    options?: UpsertManyOptions<Entity, Fields>,
  ): Promise<Entity[]> {
    const em = this.getContext(false);
    return em === this ? super.upsertMany(entityNameOrEntity, data, options) : em.upsertMany(entityNameOrEntity, data, options);
  }

  // MikroORM's result cache is shared by every fork and keys entries by the query alone (or by the
  // key the caller names). Every cached read and write goes through `tryCache` (`storeCache` reuses
  // the key it returns), so keying by scope here keeps each scope to its own entries.

  /** @internal */
  override tryCache<T extends object, R>(
    entityName: string,
    config: boolean | number | [string, number] | undefined,
    key: unknown,
    refresh?: boolean,
    merge?: boolean,
  ): Promise<{ data?: R | null; key: string } | undefined> {
    config ??= this.config.get('resultCache').global;
    // No cache for this query: nothing is read, and the scope's identity (a hash) is not needed.
    if (!config) return super.tryCache(entityName, config, key, refresh, merge);
    const scope = scopeIdentity(scopeOf(this.getContext(false).driver));
    // Named keys are namespaced for every scope, no scope included, so that no fork can name another
    // scope's entry (scope identities are hashes of public values, hence guessable).
    if (!scope) return super.tryCache(entityName, Array.isArray(config) ? [scopedCacheKey(scope, config[0]), config[1]] : config, key, refresh, merge);
    return Array.isArray(config)
      ? super.tryCache(entityName, [scopedCacheKey(scope, config[0]), config[1]], key, refresh, merge)
      : super.tryCache(entityName, config, { rlsScope: scope, key }, refresh, merge);
  }

  /**
   * Clears the result cache entry stored under `cacheKey` by this manager's scope: entries are kept
   * apart per scope, so clear them from a fork with the same context (or the same bypass).
   */
  override clearCache(cacheKey: string): Promise<void> {
    const scope = scopeIdentity(scopeOf(this.getContext(false).driver));
    return super.clearCache(scopedCacheKey(scope, cacheKey));
  }

  private forkScoped(scope: RlsScope, options: RlsForkOptions = {}): this {
    if ((options as ForkOptions).clear === false) {
      throw new RlsConfigurationError(
        'forkWithRls() and bypassRls() refuse clear: false: the fork would start with the entities this manager loaded under ' +
          'its own scope, readable without a query. Load them again in the fork (or pass their ids).',
      );
    }
    const parent = this.getContext(false);
    // MikroORM's fork() builds the new manager with `em.driver` (see internals.ts), which its UnitOfWork,
    // loader and persister take in the constructor, so it cannot be swapped afterwards: fork from a view
    // of the parent whose driver is the scoped one. Only this one call reads that view. (A driver handed
    // to the constructor through a module-level slot instead could be taken by any manager user code
    // builds meanwhile, in a subscriber's getSubscribedEntities() or a subclass constructor: found by
    // the eighth review.)
    const driver = scopeDriver(parent.driver, scope);
    const host = Object.create(parent, { driver: { value: driver } }) as this;
    // keepTransactionContext is not in RlsForkOptions, but a cast gets it through: the fork would start in
    // the parent's transaction (refused on use; never joined, as on MikroORM 7).
    const fork = SqlEntityManager.prototype.fork.call(host, { ...options, keepTransactionContext: false, disableContextResolution: true }) as this;
    if (fork.driver !== driver) {
      // Fail closed: a fork with the parent's driver would run unscoped.
      throw new RlsAdapterAssumptionError("MikroORM's fork() builds the fork from em.driver", 'the fork did not get the scoped driver');
    }
    return rememberForkedUnder(fork, this.config.get('context')(this.name));
  }
}

/** `rls:<scope identity>:<key>`; '' for no scope, which no identity (32 hex digits) can equal. */
function scopedCacheKey(scope: string, key: string): string {
  return `rls:${scope}:${key}`;
}

import type { MikroORM } from '@mikro-orm/core';
import { isRlsEntityManager, type RlsEntityManagerLike } from '../adapter/rls-entity-manager-like';
import { RlsConfigurationError } from '../errors/rls-configuration-error';
import { RlsMissingContextError } from '../errors/rls-missing-context-error';

/**
 * Builds the RLS context from whatever identifies the caller (a request, a job, arguments), sync or
 * async. Return `undefined` (or throw) when there is no caller to scope to: the sessioner then refuses
 * before any SQL is sent. A class with a `getContext` method works as well as a function.
 *
 * @example
 * interface Job { accountId?: number }
 * const fromJob: ContextGetter<[Job], { account_id: number }> = (job) =>
 *   job.accountId === undefined ? undefined : { account_id: job.accountId };
 * const jobs = new RlsSessioner(orm, fromJob);
 */
export type ContextGetter<Args extends unknown[], Context> =
  | ((...args: Args) => Context | undefined | null | Promise<Context | undefined | null>)
  | { getContext(...args: Args): Context | undefined | null | Promise<Context | undefined | null> };

/**
 * Hands out RLS-scoped entity managers built from a context getter: the counterpart of the Python
 * package's `RlsSessioner`. The framework integrations are built on it.
 *
 * @example
 * const sessioner = new RlsSessioner(orm, (accountId: number) => ({ account_id: accountId }));
 * const items = await sessioner.run([42], (em) => em.find(Item, {}));
 *
 * @throws {RlsConfigurationError} from the constructor, for an ORM not set up with `withRls`.
 * @throws {RlsMissingContextError} from `fork` and `run` when the getter returns nothing.
 * @throws {RlsContextError} from `fork` and `run` when what it returns fails the context schema.
 */
export class RlsSessioner<
  Args extends unknown[],
  Context extends object,
  // The adapter's entity manager type; the adapter's own `RlsSessioner` fills it in for its major.
  Manager extends RlsEntityManagerLike<Context> = RlsEntityManagerLike<Context>,
> {
  private readonly em: Manager;
  private readonly getter: (...args: Args) => Context | undefined | null | Promise<Context | undefined | null>;

  constructor(orm: MikroORM | Manager, contextGetter: ContextGetter<Args, Context>) {
    const em: unknown = isRlsEntityManager(orm) ? orm : (orm as MikroORM).em;
    if (!isRlsEntityManager(em)) {
      throw new RlsConfigurationError('RlsSessioner needs an ORM initialised with MikroORM.init(withRls(...)).');
    }
    this.em = em as unknown as Manager;
    this.getter = typeof contextGetter === 'function' ? contextGetter : contextGetter.getContext.bind(contextGetter);
  }

  /**
   * A scoped fork for the caller described by `args`. No SQL is sent when the context cannot be built.
   *
   * @example
   * const em = await sessioner.fork(42);
   * await em.find(Item, {});
   *
   * @throws {RlsMissingContextError} when the getter returns nothing.
   * @throws {RlsContextError} when what it returns fails the context schema.
   */
  async fork(...args: Args): Promise<Manager> {
    const context = await this.getter(...args);
    if (context === undefined || context === null) throw new RlsMissingContextError();
    return this.em.forkWithRls(context);
  }

  /**
   * Runs `work` in one transaction of a scoped fork: committed (and flushed) when it resolves, rolled
   * back when it throws; the fork's identity map is cleared afterwards either way.
   *
   * @example
   * const count = await sessioner.run([42], (em) => em.count(Item));
   *
   * @throws {RlsMissingContextError} when the getter returns nothing.
   * @throws {RlsContextError} when what it returns fails the context schema.
   */
  async run<T>(args: Args, work: (em: Manager) => T | Promise<T>): Promise<T> {
    const em = await this.fork(...args);
    try {
      return await em.transactional((tx) => work(tx));
    } finally {
      em.clear();
    }
  }
}

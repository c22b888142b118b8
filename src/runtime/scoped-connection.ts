import { EventType, Utils } from '@mikro-orm/core';
import type { AbstractSqlConnection, AbstractSqlPlatform, Knex } from '@mikro-orm/knex';
import { applyScope, type RlsScope } from './rls-scope';

type BeginOptions = NonNullable<Parameters<AbstractSqlConnection['begin']>[0]>;
type TransactionalOptions = NonNullable<Parameters<AbstractSqlConnection['transactional']>[1]>;

const BASE = Symbol('mikro-orm-rls base connection');

/** Members that create or destroy shared state: always run on the shared connection, never on a view. */
const SHARED_STATE = ['connect', 'close', 'ensureConnection', 'getKnex', 'checkConnection', 'isConnected', 'setMetadata', 'setPlatform', 'loadFile'] as const;

function isTransactionBoundQuery(query: unknown): boolean {
  return Utils.isObject<{ client?: { transacting?: boolean } }>(query) && !!query.client?.transacting;
}

/**
 * A view of the ORM's connection whose every query runs in a transaction opened with the scope's one
 * statement. It shares the pool and all state with the real connection (it is an `Object.create` of it);
 * only these methods differ:
 * - `begin` applies the scope right after BEGIN (and before `afterTransactionStart` subscribers run);
 * - `transactional` goes through that `begin`;
 * - `execute` outside a transaction wraps the single statement in its own scoped transaction, which is
 *   what autocommit would have done anyway, so results and errors are unchanged.
 */
export function scopeConnection<C extends AbstractSqlConnection>(connection: C, scope: RlsScope): C {
  const base = baseConnection(connection);
  const view = Object.create(base) as C;
  const shared: PropertyDescriptorMap = {};
  for (const name of SHARED_STATE) {
    const member = (base as unknown as Record<string, unknown>)[name];
    if (typeof member === 'function') shared[name] = { value: member.bind(base) };
  }
  const begin = async (options: BeginOptions = {}): Promise<Knex.Transaction> => {
    if (options.ctx) return base.begin(options); // a savepoint: the outer transaction carries the scope
    await options.eventBroadcaster?.dispatchEvent(EventType.beforeTransactionStart);
    const trx = await base.getKnex().transaction(null, { isolationLevel: options.isolationLevel, readOnly: options.readOnly });
    const log = (base as unknown as { logQuery(q: string, c?: unknown): void }).logQuery.bind(base);
    for (const query of (base.getPlatform() as AbstractSqlPlatform).getBeginTransactionSQL(options)) log(query, options.loggerContext);
    try {
      await applyScope(trx, scope);
    } catch (error) {
      await base.rollback(trx, undefined, options.loggerContext);
      throw error;
    }
    log(scope.kind === 'bypass' ? "select set_config('role', ?, true)" : scope.statement, options.loggerContext);
    await options.eventBroadcaster?.dispatchEvent(EventType.afterTransactionStart, trx);
    return trx;
  };
  const transactional = async <T>(cb: (trx: Knex.Transaction) => Promise<T>, options: TransactionalOptions = {}): Promise<T> => {
    const trx = await begin(options);
    try {
      const ret = await cb(trx);
      await base.commit(trx, options.eventBroadcaster, options.loggerContext);
      return ret;
    } catch (error) {
      await base.rollback(trx, options.eventBroadcaster, options.loggerContext);
      throw error;
    }
  };
  const execute: C['execute'] = (query, params, method, ctx, loggerContext) => {
    if (ctx || isTransactionBoundQuery(query)) return base.execute(query, params, method, ctx, loggerContext);
    return transactional((trx) => base.execute(query, params, method, trx, loggerContext));
  };
  Object.defineProperties(view, {
    ...shared,
    [BASE]: { value: base },
    begin: { value: begin },
    transactional: { value: transactional },
    execute: { value: execute },
  });
  return view;
}

/** The shared connection behind a view (or the connection itself). */
export function baseConnection<C extends AbstractSqlConnection>(connection: C): C {
  return ((connection as unknown as Record<symbol, C>)[BASE] ?? connection) as C;
}

import { EventType, Utils } from '@mikro-orm/core';
import type { AbstractSqlConnection, AbstractSqlPlatform, Knex } from '@mikro-orm/knex';
import type { Configuration } from '@mikro-orm/core';
import { sessionResetOf } from '../../../core/settings/session-reset-of';
import { beginScopedTransaction, startPendingTransaction } from './deferred-scope';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { assertPoolGuarded } from '../wiring/pool-guard';
import { roleChecked } from '../wiring/role-check';
import { scopeStatement, type RlsScope, type ScopeSql } from '../../../core/scope/rls-scope';
import { runBehindScope } from './scope-in-one-message';

type BeginOptions = NonNullable<Parameters<AbstractSqlConnection['begin']>[0]>;
type TransactionalOptions = NonNullable<Parameters<AbstractSqlConnection['transactional']>[1]>;

const BASE = Symbol('mikro-orm-rls base connection');
const SCOPE_SQL = Symbol('mikro-orm-rls scope statement');

/** Members that create or destroy shared state: always run on the shared connection, never on a view. */
export const SHARED_STATE = ['connect', 'close', 'ensureConnection', 'getKnex', 'checkConnection', 'isConnected', 'setMetadata', 'setPlatform', 'loadFile'] as const;

type ExecuteMethod = 'all' | 'get' | 'run';

/** The knex client of the transaction a query was built on (`trx.raw(...)`, `trx('t')`), if any. */
function boundTransactionClient(query: unknown): object | undefined {
  const client = Utils.isObject<{ client?: { transacting?: boolean } }>(query) ? query.client : undefined;
  return client?.transacting ? client : undefined;
}

// Which scope opened each transaction of a view: a transaction runs with the scope of whoever opened
// it, so a view must not run its statements in another's (passed as `ctx`, or as a query built on it).
// Keyed by the transaction's own knex client, which both the transaction and every query built on it
// hold, and which dies with the transaction.
const TRANSACTION_SCOPES = new WeakMap<object, string>();

function rememberScope(trx: Knex.Transaction, scope: ScopeSql | undefined): Knex.Transaction {
  TRANSACTION_SCOPES.set(trx.client as object, scope?.literal ?? '');
  return trx;
}

/**
 * Makes `trx`, a savepoint another view opened, one that `view` runs its statements in: for
 * `bypassRls(cb, { propagation: 'nested' })`, which switches the savepoint to the bypass role first.
 */
export function adoptTransaction(view: AbstractSqlConnection, trx: Knex.Transaction): void {
  rememberScope(trx, scopeSqlOf(view));
}

/** The scope statements a view sends, if it is a scoped view. */
export function scopeSqlOf(view: AbstractSqlConnection): ScopeSql | undefined {
  return (view as unknown as Record<symbol, ScopeSql | undefined>)[SCOPE_SQL];
}

function refuseForeignTransaction(transactionClient: object, scope: ScopeSql | undefined): void {
  if (TRANSACTION_SCOPES.get(transactionClient) !== (scope?.literal ?? '')) {
    throw new RlsConfigurationError(
      'A scoped fork was given a transaction it did not open (another fork\'s, or an unscoped one), as ctx or as a knex query built on ' +
        "it (trx.raw(), trx('table')): its statements would run with that transaction's context, not its own. Run them in the fork's " +
        'own em.transactional() or em.begin(), or build the query with em.getKnex().',
    );
  }
}

/**
 * Runs what completes a transaction's start (afterTransactionStart subscribers) and, if it fails, rolls
 * the transaction back before rethrowing: the caller never gets the transaction, so nothing else would
 * ever end it, and knex keeps a transaction's pooled connection until it ends. Left open, that
 * connection never came back: every later request waited for it, and so did orm.close().
 */
async function endIfStartFails(trx: Knex.Transaction, start: () => unknown): Promise<void> {
  try {
    await start();
  } catch (error) {
    await trx.rollback().catch(() => {
      // The subscriber's error is the one the caller needs. knex has ended the transaction and released
      // its connection whether or not ROLLBACK went through; one that is not idle (a failed ROLLBACK on
      // a live connection) is destroyed by the pool guard, a dead one by knex, before anyone gets it.
    });
    throw error;
  }
}

/** The protected members of MikroORM's connection that its `execute` is made of. */
interface ConnectionInternals {
  config: { get(key: 'onQuery'): (sql: string, params: readonly unknown[]) => string };
  getSql(query: string, formatted: string, context?: object): string;
  executeQuery<T>(query: string, cb: () => Promise<T>, context?: object): Promise<T>;
  transformRawResult<T>(res: unknown, method: ExecuteMethod): T;
}

/**
 * A view of the ORM's connection whose every statement runs with the scope's one statement before it,
 * in the same transaction and in the same message (no round trip of its own). It shares the pool and
 * all state with the real connection (it is an `Object.create` of it); only these methods differ:
 * - `begin` opens the transaction and defers the scope statement to the transaction's first statement,
 *   whoever sends it (before `afterTransactionStart` subscribers run);
 * - `transactional` goes through that `begin`;
 * - `execute` outside a transaction sends the scope statement and the caller's SQL as one message,
 *   which PostgreSQL runs as one implicit transaction: `set_config(..., true)` holds for the caller's
 *   statements and ends with them, exactly as a transaction of their own would.
 */
export function scopeConnection<C extends AbstractSqlConnection>(connection: C, scope: RlsScope): C {
  const base = baseConnection(connection);
  const view = Object.create(sharedLayer(base)) as C;
  const platform = base.getPlatform() as AbstractSqlPlatform;
  const statement = scopeStatement(scope);
  // Written with literals once per fork, by the same quoting MikroORM uses for every value it sends.
  const settings = (base as unknown as { config: Configuration }).config.get('rls');
  const reset = sessionResetOf(settings);
  const scopeSql: ScopeSql | undefined = statement && { literal: platform.formatQuery(statement.sql, [...statement.params]), redacted: statement.sql, reset };
  const begin = async (options: BeginOptions = {}): Promise<Knex.Transaction> => {
    if (options.ctx) {
      // A savepoint: the outer transaction carries the scope, and must have started before it.
      refuseForeignTransaction(options.ctx.client as object, scopeSql);
      await startPendingTransaction(options.ctx);
      return rememberScope(await base.begin(options), scopeSql);
    }
    assertPoolGuarded(base.getKnex() as never);
    await roleChecked(base);
    await options.eventBroadcaster?.dispatchEvent(EventType.beforeTransactionStart);
    const knexOptions = { isolationLevel: options.isolationLevel, readOnly: options.readOnly };
    const trx = scopeSql ? await beginScopedTransaction(base.getKnex(), knexOptions, scopeSql) : await base.getKnex().transaction(null, knexOptions);
    const log = (base as unknown as { logQuery(q: string, c?: unknown): void }).logQuery.bind(base);
    for (const query of platform.getBeginTransactionSQL(options)) log(query, options.loggerContext);
    if (statement) log(statement.sql, options.loggerContext);
    await endIfStartFails(trx, () => options.eventBroadcaster?.dispatchEvent(EventType.afterTransactionStart, trx));
    return rememberScope(trx, scopeSql);
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
  // MikroORM's own `execute`, with the caller's SQL run behind the scope statement (see runBehindScope);
  // logging, `onQuery`, errors and results are the caller's, as without the scope.
  const internals = base as unknown as ConnectionInternals;
  const execute = (async (query: string | Knex.QueryBuilder | Knex.Raw, params: unknown[] = [], method: ExecuteMethod = 'all', ctx?: Knex.Transaction, loggerContext?: object) => {
    if (ctx) refuseForeignTransaction(ctx.client as object, scopeSql);
    else await roleChecked(base);
    const bound = boundTransactionClient(query);
    if (bound) refuseForeignTransaction(bound, scopeSql);
    if (ctx || bound || !scopeSql) return base.execute(query, params, method, ctx, loggerContext as never);
    await base.ensureConnection();
    assertPoolGuarded(base.getKnex() as never);
    let sql: string;
    if (typeof query === 'string') {
      sql = query;
    } else {
      const compiled = query.toSQL();
      sql = compiled.sql;
      params = [...(compiled.bindings ?? [])];
    }
    sql = internals.config.get('onQuery')(sql, params);
    const formatted = platform.formatQuery(sql, params);
    if (!formatted.trim()) return base.execute(formatted, [], method, undefined, loggerContext as never);
    return internals.executeQuery(
      internals.getSql(sql, formatted, loggerContext),
      async () => internals.transformRawResult(await runBehindScope(base.getKnex(), scopeSql, formatted), method),
      { query: sql, params, ...loggerContext },
    );
  }) as unknown as C['execute'];
  Object.defineProperties(view, {
    [SCOPE_SQL]: { value: scopeSql },
    begin: { value: begin },
    transactional: { value: transactional },
    execute: { value: execute },
  });
  return view;
}

// One layer per shared connection, between it and its views: shared-state members bound to the real
// connection, built once rather than for every fork (a fork per request is the common case).
const SHARED_LAYERS = new WeakMap<AbstractSqlConnection, object>();

function sharedLayer(base: AbstractSqlConnection): object {
  let layer = SHARED_LAYERS.get(base);
  if (!layer) {
    const members: PropertyDescriptorMap = { [BASE]: { value: base } };
    for (const name of SHARED_STATE) {
      const member = (base as unknown as Record<string, unknown>)[name];
      // Every one is a function (internals.ts checks it at start-up): a missing one would let a view open its own pool.
      members[name] = { value: (member as (...args: unknown[]) => unknown).bind(base) };
    }
    layer = Object.create(base, members) as object;
    SHARED_LAYERS.set(base, layer);
  }
  return layer;
}

/** The shared connection behind a view (or the connection itself). */
export function baseConnection<C extends AbstractSqlConnection>(connection: C): C {
  return ((connection as unknown as Record<symbol, C>)[BASE] ?? connection) as C;
}

import { EventType, Utils } from '@mikro-orm/core';
import type { AbstractSqlConnection, AbstractSqlPlatform, Knex } from '@mikro-orm/knex';
import { beginScopedTransaction, startPendingTransaction } from './deferred-scope';
import { hideScopeStatement, scopeStatement, withoutScopeResult, type RlsScope } from './rls-scope';

type BeginOptions = NonNullable<Parameters<AbstractSqlConnection['begin']>[0]>;
type TransactionalOptions = NonNullable<Parameters<AbstractSqlConnection['transactional']>[1]>;

const BASE = Symbol('mikro-orm-rls base connection');

/** Members that create or destroy shared state: always run on the shared connection, never on a view. */
const SHARED_STATE = ['connect', 'close', 'ensureConnection', 'getKnex', 'checkConnection', 'isConnected', 'setMetadata', 'setPlatform', 'loadFile'] as const;

type ExecuteMethod = 'all' | 'get' | 'run';

function isTransactionBoundQuery(query: unknown): boolean {
  return Utils.isObject<{ client?: { transacting?: boolean } }>(query) && !!query.client?.transacting;
}

// What MikroORM's connection returns for SQL without statements, per method.
function emptyResult(method: ExecuteMethod): unknown {
  if (method === 'all') return [];
  return method === 'get' ? undefined : { affectedRows: 0, insertId: 0, row: undefined, rows: [] };
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
  const literalStatement = statement && platform.formatQuery(statement.sql, [...statement.params]);
  const begin = async (options: BeginOptions = {}): Promise<Knex.Transaction> => {
    if (options.ctx) {
      // A savepoint: the outer transaction carries the scope, and must have started before it.
      await startPendingTransaction(options.ctx);
      return base.begin(options);
    }
    await options.eventBroadcaster?.dispatchEvent(EventType.beforeTransactionStart);
    const knexOptions = { isolationLevel: options.isolationLevel, readOnly: options.readOnly };
    const trx = literalStatement ? await beginScopedTransaction(base.getKnex(), knexOptions, literalStatement) : await base.getKnex().transaction(null, knexOptions);
    const log = (base as unknown as { logQuery(q: string, c?: unknown): void }).logQuery.bind(base);
    for (const query of platform.getBeginTransactionSQL(options)) log(query, options.loggerContext);
    if (statement) log(statement.sql, options.loggerContext);
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
  const execute = (async (query: string | Knex.QueryBuilder | Knex.Raw, params: unknown[] = [], method: ExecuteMethod = 'all', ctx?: Knex.Transaction, loggerContext?: unknown) => {
    if (ctx || isTransactionBoundQuery(query) || !statement || !literalStatement) return base.execute(query, params, method, ctx, loggerContext as never);
    let sql: string;
    if (typeof query === 'string') {
      sql = query;
    } else {
      const compiled = query.toSQL();
      sql = compiled.sql;
      params = [...(compiled.bindings ?? [])];
    }
    if (!sql.trim()) return base.execute(sql, params, method, undefined, loggerContext as never);
    // Without params MikroORM sends the SQL as written; escaping its `?` keeps it so once ours are added.
    const callerSql = params.length ? sql : sql.replaceAll('?', '\\?');
    const results = await base
      .execute(`${statement.sql};\n${callerSql}`, [...statement.params, ...params], method, undefined, loggerContext as never)
      .catch((error: unknown) => hideScopeStatement(error, literalStatement));
    return withoutScopeResult(results as unknown, 1, emptyResult(method));
  }) as unknown as C['execute'];
  Object.defineProperties(view, {
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
      if (typeof member === 'function') members[name] = { value: member.bind(base) };
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

import { EventType, type Configuration } from '@mikro-orm/core';
import type { AbstractSqlConnection } from '@mikro-orm/sql';
import type { ControlledTransaction } from 'kysely';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { scopeStatement, type RlsScope, type ScopeSql } from '../../../core/scope/rls-scope';
import { sessionResetOf } from '../../../core/settings/session-reset-of';
import { assertLeasing } from '../wiring/lease-guard';
import { assertPoolGuarded } from '../wiring/pool-guard';
import { roleChecked } from '../wiring/role-check';
import { refuseKyselyQuery } from './kysely-query-refusal';
import { sendWith } from './scope-storage';
import { endingView, joinStep, stepOf, stepView, taggedExecutor } from './step-transactions';

type Transaction = ControlledTransaction<any, any>;
type BeginOptions = NonNullable<Parameters<AbstractSqlConnection['begin']>[0]>;
type TransactionalOptions = NonNullable<Parameters<AbstractSqlConnection['transactional']>[1]>;

const BASE = Symbol('mikro-orm-rls base connection');
const SCOPE_SQL = Symbol('mikro-orm-rls scope statement');

/** The members a view defines itself; every other method runs on the shared connection. */
export const VIEW_MEMBERS = ['execute', 'begin', 'transactional', 'commit', 'rollback', 'stream', 'getClient'] as const;

// Which scope opened each transaction (and savepoint): a transaction runs with the scope of whoever
// opened it, so a view must not run its statements in another's (passed as `ctx`).
const TRANSACTION_SCOPES = new WeakMap<object, string>();
function rememberScope<T extends object>(trx: T, scope: ScopeSql | undefined): T {
  TRANSACTION_SCOPES.set(trx, scope?.literal ?? '');
  return trx;
}

/** Makes `trx`, a savepoint another view opened, one that `view` runs its statements in (a nested bypass step). */
export function adoptTransaction(view: AbstractSqlConnection, trx: object): void {
  rememberScope(trx, scopeSqlOf(view));
}

/** The scope statements a view sends, if it is a scoped view. */
export function scopeSqlOf(view: AbstractSqlConnection): ScopeSql | undefined {
  return (view as unknown as Record<symbol, ScopeSql | undefined>)[SCOPE_SQL];
}

const FOREIGN_CTX =
  "A scoped fork was given a transaction it did not open (another fork's, or an unscoped one) as ctx: its statements would run " +
  "with that transaction's context, not its own. Run them in the fork's own em.transactional() or em.begin().";

function refuseForeignTransaction(trx: object, scope: ScopeSql | undefined, refusal = FOREIGN_CTX): void {
  if (TRANSACTION_SCOPES.get(trx) !== (scope?.literal ?? '')) throw new RlsConfigurationError(refusal);
}

/**
 * Refuses `trx` as the transaction context of a manager on `connection` when that is a scoped view that
 * did not open it: what hands the transaction out (`em.getKysely()`, whose queries Kysely sends on it
 * directly, past this view) or keeps it for later (`em.setTransactionContext()`) would run with the other
 * transaction's context. Unscoped connections take any transaction.
 */
export function refuseForeignTransactionContext(connection: AbstractSqlConnection, trx: object, call: string): void {
  if (!(BASE in connection)) return;
  refuseForeignTransaction(
    trx,
    scopeSqlOf(connection),
    `${call} of a scoped fork was given a transaction it did not open (another fork's, or an unscoped one, set with ` +
      "em.setTransactionContext()): Kysely's queries in it would run with that transaction's context, not the fork's. Run them in the " +
      "fork's own em.transactional() or em.begin(), and use em.getKysely() there.",
  );
}

function refuseNativeSession(options: { sessionContext?: unknown }): void {
  if (options.sessionContext) {
    throw new RlsConfigurationError(
      "An RLS fork (forkWithRls, bypassRls) was given MikroORM's native session context (em.fork({ session }), em.setSessionContext(), " +
        "or an 'rls' filter's parameters): it would open a transaction of its own around every query and set variables outside this " +
        "package's scope. Put the values in the forkWithRls context instead (its schema validates them).",
    );
  }
}

/**
 * Runs what completes a transaction's start (afterTransactionStart subscribers) and, if it fails, rolls
 * the transaction back before rethrowing: the caller never gets the transaction, so nothing else would
 * end it, and Kysely keeps its pooled connection until it ends.
 */
async function endIfStartFails(trx: Transaction, start: () => unknown): Promise<void> {
  try {
    await start();
  } catch (error) {
    await trx.rollback().execute().catch(() => {
      // The subscriber's error is the one the caller needs. A connection whose ROLLBACK failed is not
      // idle, and the pool guard destroys it on release.
    });
    throw error;
  }
}

/** The protected member of MikroORM's connection that logs (its label is a #private field, so bound). */
interface ConnectionInternals {
  logQuery(query: string, context?: unknown): void;
  config: Configuration;
}

/**
 * A view of the ORM's connection whose statements run with the scope: MikroORM's own `execute`, with
 * the scope handed to the pg client (see rls-pg-client.ts) for that one statement, around Kysely's call
 * that sends it alone (MikroORM's onQuery hook and logger, and what they start, run without it). MikroORM 7's
 * connection keeps its Kysely client and pool in #private fields, so every inherited method is bound to
 * the real connection (an `Object.create` view alone would throw on them); only these differ:
 * - `execute` outside a transaction: the scope goes in the same message as the caller's SQL; a Kysely
 *   query (which MikroORM's execute does not take) is refused saying where to run it;
 * - `begin` opens a transaction whose `BEGIN` and scope go in front of its first statement;
 * - `transactional` goes through that `begin`;
 * - on a transaction of a nested bypass step (step-transactions.ts), `execute`, `begin`, `commit`,
 *   `rollback` and `stream` tag their statements as the step's: its connection accepts no others;
 * - `stream` needs a transaction (a cursor cannot share a message);
 * - `getClient` (raw Kysely, `em.getKysely()` outside a transaction) is refused: its statements carry
 *   bound parameters, which cannot share the scope's message. Inside a transaction `em.getKysely()`
 *   returns the transaction itself, which is scoped.
 */
export function scopeConnection<C extends AbstractSqlConnection>(connection: C, scope: RlsScope): C {
  const base = baseConnection(connection);
  const view = Object.create(sharedLayer(base)) as C;
  const internals = base as unknown as ConnectionInternals;
  const platform = base.getPlatform();
  const statement = scopeStatement(scope);
  const settings = internals.config.get('rls' as never) as unknown;
  const reset = sessionResetOf(settings);
  // Written with literals once per fork, by the same quoting MikroORM uses for every value it sends.
  const scopeSql: ScopeSql | undefined = statement && { literal: platform.formatQuery(statement.sql, [...statement.params]), redacted: statement.sql, reset };

  const ready = async () => {
    await base.ensureConnection();
    // Checked once per Kysely client: a new pool (orm.reconnect(), other options) comes with a new one.
    const client = base.getClient();
    if (READY.get(base) === client) return;
    await assertPoolGuarded(base);
    await assertLeasing(base);
    await roleChecked(base);
    READY.set(base, client);
  };
  const begin = async (options: BeginOptions = {}): Promise<Transaction> => {
    refuseNativeSession(options);
    if (options.ctx) {
      // A savepoint: it rides on the transaction's start, on the same pg client.
      refuseForeignTransaction(options.ctx, scopeSql);
      const step = stepOf(options.ctx);
      const ctx = step ? stepView(options.ctx, step.token) : options.ctx;
      const savepoint = rememberScope(await base.begin({ ...options, ctx }), scopeSql);
      if (step) joinStep(savepoint, step);
      return savepoint;
    }
    await ready();
    await options.eventBroadcaster?.dispatchEvent(EventType.beforeTransactionStart);
    let builder = base.getClient().startTransaction();
    if (options.isolationLevel) builder = builder.setIsolationLevel(options.isolationLevel as never);
    if (options.readOnly) builder = builder.setAccessMode('read only');
    // Only Kysely's BEGIN sees the scope: it is kept back by the pg client, and sent with the first statement.
    const trx = scopeSql ? await sendWith({ begin: scopeSql }, () => builder.execute()) : await builder.execute();
    for (const query of (platform as unknown as { getBeginTransactionSQL(o: object): string[] }).getBeginTransactionSQL(options)) internals.logQuery(query, options.loggerContext);
    if (statement) internals.logQuery(statement.sql, options.loggerContext);
    await endIfStartFails(trx, () => options.eventBroadcaster?.dispatchEvent(EventType.afterTransactionStart, trx));
    return rememberScope(trx, scopeSql);
  };
  const transactional = async <T>(cb: (trx: Transaction) => Promise<T>, options: TransactionalOptions = {}): Promise<T> => {
    const trx = await begin(options);
    try {
      const ret = await cb(trx);
      await commit(trx, options.eventBroadcaster, options.loggerContext);
      return ret;
    } catch (error) {
      try {
        await rollback(trx, options.eventBroadcaster, options.loggerContext);
      } catch {
        // The callback's error is the one the caller needs; a connection whose ROLLBACK failed is not
        // idle, and the pool guard destroys it.
      }
      throw error;
    }
  };
  // MikroORM's commit and rollback of a step's savepoint send their statement tagged as the step's.
  const commit = (ctx: Transaction, ...rest: unknown[]) => {
    const step = stepOf(ctx);
    return (base.commit as (...args: unknown[]) => Promise<void>)(step ? endingView(ctx, step) : ctx, ...rest);
  };
  const rollback = (ctx: Transaction, ...rest: unknown[]) => {
    const step = stepOf(ctx);
    return (base.rollback as (...args: unknown[]) => Promise<void>)(step ? endingView(ctx, step) : ctx, ...rest);
  };
  // MikroORM's execute sends the statement with `(ctx ?? its Kysely).executeQuery(compiled)` (see
  // internals.ts), after its onQuery hook and before its logger: the scope goes in there, as `ctx`.
  const execute = async (query: unknown, params?: unknown, method?: unknown, ctx?: Transaction, loggerContext?: unknown) => {
    refuseKyselyQuery(query);
    const run = base.execute.bind(base) as (...args: unknown[]) => Promise<unknown>;
    if (ctx) {
      refuseForeignTransaction(ctx, scopeSql);
      const step = stepOf(ctx);
      return run(query, params, method, step ? taggedExecutor(ctx, (sql) => ({ step: step.token, sql })) : ctx, loggerContext);
    }
    if (!scopeSql) return run(query, params, method, undefined, loggerContext);
    await ready();
    return run(query, params, method, taggedExecutor(base.getClient(), (sql) => ({ message: scopeSql, sql })), loggerContext);
  };
  async function* stream(query: unknown, params?: unknown, ctx?: Transaction, loggerContext?: unknown, chunkSize?: number) {
    if (!ctx && scopeSql) {
      throw new RlsConfigurationError('A scoped fork streams only inside a transaction (a cursor cannot share the message that carries the scope): run it in em.transactional().');
    }
    if (ctx) refuseForeignTransaction(ctx, scopeSql);
    const step = stepOf(ctx);
    yield* (base.stream as (...args: unknown[]) => AsyncIterable<unknown>)(query, params, ctx && step ? stepView(ctx, step.token) : ctx, loggerContext, chunkSize);
  }
  const getClient = () => {
    if (!scopeSql) return base.getClient();
    throw new RlsConfigurationError(
      "em.getKysely() (or getConnection().getClient()) of a scoped fork outside a transaction is refused: Kysely's own queries carry " +
        'bound parameters, which cannot travel in the message that carries the scope, so they would run unscoped. Call it inside ' +
        'em.transactional() (it returns the scoped transaction there), or use em.execute().',
    );
  };
  Object.defineProperties(view, {
    [SCOPE_SQL]: { value: scopeSql },
    begin: { value: begin },
    transactional: { value: transactional },
    commit: { value: commit },
    rollback: { value: rollback },
    execute: { value: execute },
    stream: { value: stream },
    getClient: { value: getClient },
  });
  return view;
}

// The Kysely client of each shared connection whose pool guard, leases and role were checked.
const READY = new WeakMap<AbstractSqlConnection, object>();

// One layer per shared connection, between it and its views: every method of the connection bound to
// it (MikroORM 7 keeps its state in #private fields), built once rather than for every fork.
const SHARED_LAYERS = new WeakMap<AbstractSqlConnection, object>();

function sharedLayer(base: AbstractSqlConnection): object {
  let layer = SHARED_LAYERS.get(base);
  if (!layer) {
    const members: PropertyDescriptorMap = { [BASE]: { value: base } };
    for (let proto: object | null = base; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
      for (const name of Object.getOwnPropertyNames(proto)) {
        const member = (base as unknown as Record<string, unknown>)[name];
        if (name !== 'constructor' && !(name in members) && typeof member === 'function') {
          members[name] = { value: (member as (...args: unknown[]) => unknown).bind(base) };
        }
      }
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

import { Client, type ClientConfig } from 'pg';
import { sessionReset } from '../../../core/scope/session-reset-sql';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { withoutScopeResult, withoutTrailingResults, type ScopeSql } from '../../../core/scope/rls-scope';
import { RlsScopeEscapeError } from './rls-scope-escape-error';
import { RlsTransactionStartError } from './rls-transaction-start-error';
import { scopeStorage, withoutStore, type ScopeStore } from './scope-storage';

/** The statement a failed query sent (the caller's, without ours), for the violation error's `command`. */
export const FAILED_STATEMENT = Symbol('mikro-orm-rls failed statement');

// Kysely's PostgresDriver sends exactly these (see internals.ts).
const BEGIN = /^\s*(begin|start transaction\b[^;]*)\s*;?\s*$/i;
const END = /^\s*(commit|rollback)\s*;?\s*$/i;
const ROLLBACK = /^\s*rollback\s*;?\s*$/i;
const SAVEPOINT = /^\s*savepoint\s/i;
// How long a failed message may take to be followed by the server's ReadyForQuery: at once when the
// server reported the error; when the client gave up (`query_timeout`) the server still runs it.
const SETTLE_BOUND_MS = 100;
// How long a pending session reset may take before its connection is destroyed rather than handed on:
// it is a handful of statements on an idle session, which take well under a millisecond unless blocked.
const RESET_BOUND_MS = 1_000;

type Status = 'I' | 'T' | 'E' | undefined | 'busy';
type Release = (error?: Error | boolean) => void;
interface PgResult {
  command: string | null;
  rowCount: number | null;
  rows: unknown[];
  fields: unknown[];
}
const emptyResult = (command: string | null = null): PgResult => ({ command, rowCount: null, rows: [], fields: [] });

interface Transaction {
  /** The reset its COMMIT or ROLLBACK carries. */
  readonly reset: ScopeSql['reset'];
  /**
   * `BEGIN` and the scope (behind the session reset, after unscoped SQL on the connection), not sent yet:
   * they go in front of the transaction's first statement. `results`: how many results they add.
   */
  start?: { readonly sql: string; readonly results: number };
  /** Set while the message carrying the start is in flight: what was issued meanwhile waits. */
  waiting?: { send(): void; fail(error: unknown): void }[];
}

interface Step {
  readonly token: object;
  /** The step this one runs in (its admin manager opened it), resumed when this one ends. */
  readonly outer?: Step;
  /** Set when a step could not be undone: the transaction was rolled back, and is refused but for its ROLLBACK. */
  readonly poisoned?: string;
}

export const STEP_REFUSED =
  "This transaction is running a bypassRls(cb, { propagation: 'nested' }) step: its statements would run as the bypass role. " +
  'Await the bypass callback before using the transaction again; inside the callback, use the EntityManager it is given, through ' +
  'its MikroORM methods (find, execute, query builders, stream): raw Kysely on any transaction (em.getKysely() included) is refused during the step.';
const STEP_POISONED =
  'A bypassRls nested step in this transaction could not be undone (its savepoint could not be rolled back, or its callback ended ' +
  'it), so the transaction was rolled back: nothing more runs in it, and nothing of it is committed. Run the work again in a new transaction.';
const STEP_WAIT_ENDED =
  "A bypassRls(cb, { propagation: 'nested' }) step waited for another step of its transaction to end, and the transaction ended " +
  'meanwhile: its savepoint was not sent. Run the work again in a new transaction.';
const POISON = {};

const STEPS = new WeakMap<object, RlsPgClient>();

/**
 * The pool option (set by withRls's pool guard) that tells each client its ORM's session reset, as a
 * function: the context variables it clears are known only once discovery ran, after the options were made.
 */
export const SESSION_RESET_OPTION = 'mikroOrmRlsSessionReset';
// Without the option (a pool of no RLS ORM): everything but the context variables, whose names are unknown.
const RESET_WITHOUT_VARIABLES = sessionReset([]).sql;

/**
 * The node-postgres client of every pooled connection of an RLS ORM (installed as `driverOptions.Client`,
 * which MikroORM 7 hands to the `pg.Pool` it builds). Its `query(text, values)` is the one place where the
 * final SQL and the raw connection meet (Kysely's PostgresConnection calls it), so the scope is joined to
 * the statement here, in the same message, with no round trip of its own:
 * - outside a transaction, with a `message` scope in {@link scopeStorage}: `<scope>; <sql>; <reset>` as
 *   one message, which PostgreSQL runs as one implicit transaction;
 * - a scoped transaction's `BEGIN` is kept back and sent as `begin; <scope>` in front of its first
 *   statement (a savepoint included), and its COMMIT or ROLLBACK carries the session reset;
 * - the pool's `release` is guarded: a connection goes back to the pool only idle and with its session
 *   reset; otherwise it is reset first, or destroyed. That includes a connection that served unscoped
 *   work (a plain fork, a raw client of the pool): whatever its SQL left at session level (`SET ROLE`,
 *   `set_config(..., false)`, a temporary table) is reset before the next user gets the connection.
 * Without a scope in storage a statement is sent as plain node-postgres sends it.
 */
export class RlsPgClient extends Client {
  #transaction?: Transaction;
  #step?: Step;
  #pendingReset?: string;
  #poolRelease?: Release;
  #handedOutBusy = false;
  /** Counts unscoped messages sent on the connection. */
  #unscopedSent = 0;
  /**
   * How many of them a session reset that succeeded was sent behind: one pipelined after the reset (not
   * awaited) runs after it, so it is not covered.
   */
  #resetCovers = 0;
  /** Set when the pool hands the connection out after its creation hooks ran SQL: reset before its first use. */
  #resetBeforeUse = false;
  /** That reset, while it runs: every query issued meanwhile waits for it (see #afterFirstReset). */
  #resetting?: Promise<void>;
  readonly #sessionReset: () => string;
  /** Counts acquires: a step that waited for another checks that the connection is still its caller's. */
  #lease = 0;
  /** Steps waiting for the running one to end (one step at a time on a connection). */
  #stepWaiters: (() => void)[] = [];

  constructor(config?: string | ClientConfig) {
    super(config);
    const option = typeof config === 'object' ? (config as Record<string, unknown> | undefined)?.[SESSION_RESET_OPTION] : undefined;
    this.#sessionReset = typeof option === 'function' ? (option as () => string) : () => RESET_WITHOUT_VARIABLES;
  }

  // pg-pool sets `client.release` on every acquire (an own property assignment, which this accessor
  // receives): the pool's function is kept, and the guard is what callers get.
  get release(): Release {
    return (error) => this.#guardedRelease(error);
  }

  set release(release: Release) {
    this.#poolRelease = release;
    this.#lease++;
    // This is the pool handing the connection out. pg-pool has no check on acquire, and a connection
    // it hands out is idle unless a hook of the pool (onConnect) left it in a transaction, with
    // whatever that set: no statement may run in it, scoped or not; it is destroyed on release.
    // (A new connection is handed out from inside its connect callback, before pg has read the status
    // of its first ReadyForQuery: no status yet is a new, idle connection.)
    const status = this.getTransactionStatus();
    this.#handedOutBusy = status === 'T' || status === 'E';
    // A connection comes back to the pool reset, so SQL run since is that of the pool's hooks on a new
    // connection (pg-pool's onConnect or connect listeners; Kysely's onCreateConnection runs after this,
    // and withRls sends the reset behind it, see wiring/connection-hooks.ts): what it set
    // within the reset's reach (SET ROLE, search_path, context variables) is undone before the first
    // use, so that every use of every connection starts from the session the role check checked.
    this.#resetBeforeUse = this.#unscopedSince;
  }

  /** Whether this client is in a nested bypass step (see bypass-in-transaction.ts). */
  static stepOf(token: object): RlsPgClient | undefined {
    return STEPS.get(token);
  }

  /**
   * Ends the nested bypass step `token` armed on its client (the step it runs in, if any, resumes). With
   * `poison` (the step could not be undone), rolls the whole transaction back at once and refuses all
   * but its ROLLBACK until the caller ends it: the bypass role does not outlive the step.
   */
  static async endStep(token: object, poison: boolean): Promise<void> {
    const client = STEPS.get(token);
    STEPS.delete(token);
    if (!client) return;
    let step = client.#step;
    while (step && step.token !== token) step = step.outer;
    if (!step) return; // already over (the transaction ended, or an outer step was poisoned)
    if (!poison) return client.#setStep(step.outer);
    client.#setStep({ token: POISON, poisoned: STEP_POISONED });
    await client.#send(`rollback;\n${client.#transaction?.reset.sql ?? ''}`).catch(() => {
      // Safe to ignore: the connection failed. It stays mid step, so the pool guard destroys it on release.
    });
  }

  #setStep(step: Step | undefined): void {
    this.#step = step;
    if (step) return;
    const waiters = this.#stepWaiters;
    this.#stepWaiters = [];
    for (const wake of waiters) wake();
  }

  #stepTokens(): object[] {
    const tokens: object[] = [];
    for (let step = this.#step; step; step = step.outer) tokens.push(step.token);
    return tokens;
  }

  // pg's overloads are many; Kysely uses query(text, values) and query(submittable). Both pass here.
  override query(config: any, values?: any, callback?: any): any {
    if (this.#handedOutBusy) {
      const message =
        'mikro-orm-rls: the pool handed out a connection that was not idle (a pool hook such as onConnect left it inside a transaction): ' +
        'nothing was run on it, and it was destroyed. Make the hook end what it begins.';
      // Destroyed now: whoever holds it may never release it (Kysely does not after a failed BEGIN).
      this.#guardedRelease(new Error(message));
      throw new RlsConfigurationError(message);
    }
    if (this.#resetBeforeUse || this.#resetting) return this.#afterFirstReset(config, values, callback);
    if (typeof config !== 'string' || typeof values === 'function' || callback !== undefined) return this.#submittable(config, values, callback);
    return this.#statement(config, Array.isArray(values) ? values : []);
  }

  /**
   * The caller's query, once the reset of what the pool's creation hooks set has run: it is handed to pg
   * only then, in every form (a statement's promise, as Kysely expects from `query(text, values)`; a
   * callback query, which returns nothing; a cursor or other submittable, returned at once). Queued
   * behind the reset on the client instead, it would be sent the moment the reset's answer came back,
   * before this client could see that the reset failed: it would run on the unreset session. A failed
   * reset destroys the connection and fails the query, which is never sent.
   */
  #afterFirstReset(config: any, values?: any, callback?: any): any {
    if (this.#resetBeforeUse) {
      this.#resetBeforeUse = false;
      const mark = this.#unscopedSent;
      // Settled before the queries waiting for it run (its handlers were registered first).
      this.#resetting = super.query(this.#sessionReset()).then(
        () => {
          this.#resetting = undefined;
          this.#resetDone(mark);
        },
        (error: Error) => {
          this.#resetting = undefined;
          const message = `mikro-orm-rls: the session reset of a new connection (undoing what the pool's connection hooks set) failed, so the connection was destroyed: ${error.message}`;
          this.#guardedRelease(new Error(message));
          throw new RlsConfigurationError(message);
        },
      );
    }
    const reset = this.#resetting!;
    const run = () => this.query(config, values, callback);
    if (typeof config?.submit === 'function') {
      reset.then(run, (error: Error) => (config as { handleError?(e: Error, c: unknown): void }).handleError?.(error, this.connection));
      return config;
    }
    const done = typeof values === 'function' ? values : (callback ?? (typeof config === 'object' ? config?.callback : undefined));
    if (typeof done === 'function') {
      reset.then(run, (error: Error) => done(error));
      return undefined;
    }
    return reset.then(run);
  }

  #send(text: string, values: readonly unknown[] = []): Promise<any> {
    return values.length ? super.query(text, values as unknown[]) : super.query(text);
  }

  /**
   * While a nested bypass step runs, its connection takes only the statements its own admin view tagged
   * (sent in a `step` store, see scope-storage.ts) and the transaction's ROLLBACK: raw Kysely on the
   * caller's transaction, a plain manager, a hook, all are refused, wherever they were started.
   */
  #refusedByStep(text: string | undefined, store: ScopeStore | undefined): string | undefined {
    const step = this.#step;
    if (!step) return undefined;
    if (text !== undefined && ROLLBACK.test(text)) return undefined; // ends the transaction and the switch
    if (step.poisoned) return step.poisoned;
    return store?.step === step.token ? undefined : STEP_REFUSED;
  }

  async #statement(text: string, values: readonly unknown[]): Promise<unknown> {
    const store = claimStore(text);
    if (store?.armStep) return this.#armStep(store, store.armStep, text, values);
    const refused = this.#refusedByStep(text, store);
    if (refused) throw new RlsConfigurationError(refused);
    return this.#route(text, values, store).catch((error: unknown) => this.#afterFailure(text, error));
  }

  /**
   * A nested bypass step's savepoint: from now on the connection accepts only the step's statements. One
   * step at a time: a sibling step (started on the caller's transaction meanwhile) waits for the running
   * one to end, as knex makes sibling savepoints wait on MikroORM 6; one the running step's admin manager
   * opens (tagged by it) nests in it; one started from inside a running step's callback on the caller's
   * transaction would wait for itself, and is refused.
   */
  async #armStep(store: ScopeStore, arm: NonNullable<ScopeStore['armStep']>, text: string, values: readonly unknown[]): Promise<unknown> {
    const lease = this.#lease;
    while (this.#step && !this.#step.poisoned && store.step !== this.#step.token) {
      const running = this.#stepTokens();
      if (arm.within.some((token) => running.includes(token))) throw new RlsConfigurationError(STEP_REFUSED);
      await new Promise<void>((resolve) => {
        // Woken when the running step ends, or when the connection does (then refused below).
        const wake = () => {
          this.removeListener('end', wake);
          resolve();
        };
        this.#stepWaiters.push(wake);
        this.once('end', wake);
      });
      const open = this.#transaction?.start !== undefined || this.#status() === 'T' || this.#status() === 'E';
      if (this.#lease !== lease || !this.#poolRelease || !open) throw new RlsConfigurationError(STEP_WAIT_ENDED);
    }
    const refused = this.#refusedByStep(text, store);
    if (refused) throw new RlsConfigurationError(refused);
    // In a transaction that carries no reset (an unscoped one) the end of a step's transaction must reset too.
    this.#transaction ??= { reset: arm.reset };
    const outer = this.#step;
    this.#setStep({ token: arm.token, outer });
    STEPS.set(arm.token, this);
    try {
      return await this.#route(text, values, undefined);
    } catch (error) {
      if (this.#step?.token === arm.token) this.#setStep(outer);
      STEPS.delete(arm.token);
      throw error;
    }
  }

  async #route(text: string, values: readonly unknown[], store: ScopeStore | undefined): Promise<unknown> {
    const trx = this.#transaction;
    if (trx?.waiting) return this.#waitForStart(trx, () => this.#route(text, values, store));
    if (trx?.start) {
      if (END.test(text)) {
        // Nothing of the transaction was sent: nothing to end.
        this.#transaction = undefined;
        return emptyResult(text.trim().toUpperCase());
      }
      return this.#sendStart(trx, text, values);
    }
    if (trx) return END.test(text) ? this.#endWithReset(trx, text) : this.#send(text, values);
    const scoped = store?.message ?? store?.begin;
    if (scoped && this.getTransactionStatus() !== 'I') {
      // Fail closed: the pool guard hands out idle connections only, so this is not ours to run in.
      throw new RlsConfigurationError('mikro-orm-rls: a scoped statement found its pooled connection inside a transaction; it was not sent.');
    }
    if (store?.begin && BEGIN.test(text)) {
      const prefix = this.#resetFirst(store.begin);
      this.#transaction = { reset: store.begin.reset, start: { sql: `${prefix.sql}${text.trim()};\n${store.begin.literal}`, results: prefix.results + 2 } };
      return emptyResult('BEGIN');
    }
    if (store?.message) return this.#sendBehindScope(store.message, text, values);
    if (!values.length && text === this.#sessionReset()) {
      // Exactly the session reset (withRls sends it after the application's onCreateConnection hook):
      // once it succeeds the session is reset; a text that merely ends with it proves nothing.
      const mark = this.#unscopedSent;
      return this.#send(text).then((result) => {
        this.#resetDone(mark);
        return result;
      });
    }
    this.#markUnscoped();
    return this.#send(text, values);
  }

  #markUnscoped(): void {
    this.#unscopedSent++;
  }

  /** A session reset sent when {@link #unscopedSent} was `mark` succeeded: what was sent before it is undone. */
  #resetDone(mark: number): void {
    this.#resetCovers = Math.max(this.#resetCovers, mark);
  }

  /** Whether unscoped SQL ran since the connection was last reset: no reset of ours travelled behind it. */
  get #unscopedSince(): boolean {
    return this.#unscopedSent > this.#resetCovers;
  }

  /**
   * The session reset to send in front of a scoped message, when unscoped SQL ran on the connection
   * since its last reset (a connection hook of the application's, such as onReserveConnection, run as
   * the pool handed the connection to this very statement): the scope is applied to the session the
   * role check checked, not to one a `SET ROLE` changed. Empty otherwise. It rides in the same message.
   */
  #resetFirst(scope: ScopeSql): { sql: string; results: number } {
    return this.#unscopedSince ? { sql: `${scope.reset.sql};\n`, results: scope.reset.results } : { sql: '', results: 0 };
  }

  /** Outside a transaction: `<scope>; <sql>; <reset>` in one message, the caller's results alone returned. */
  async #sendBehindScope(scope: ScopeSql, text: string, values: readonly unknown[]): Promise<unknown> {
    if (values.length) {
      throw new RlsConfigurationError(
        'A scoped statement with bound parameters was sent outside a transaction: the scope can only travel with SQL whose values are ' +
          'written in (as MikroORM writes them). Run it inside em.transactional() (em.getKysely() there is scoped), or through em.execute().',
      );
    }
    let result: unknown;
    let failure: unknown;
    const prefix = this.#resetFirst(scope);
    const mark = this.#unscopedSent;
    try {
      result = await super.query(`${prefix.sql}${scope.literal};\n${text}\n;\n${scope.reset.sql}`);
    } catch (error) {
      failure = error;
    }
    const status = failure ? await this.#statusAfterFailure() : this.#status();
    if (status === 'T' || status === 'E') {
      // The caller's SQL opened a transaction (BEGIN), which would keep the scope after the message.
      await super.query(`rollback;\n${scope.reset.sql}`);
      if (!failure) throw new RlsScopeEscapeError(text);
    } else if (failure) {
      // The reset behind the failing statement never ran; what a raw COMMIT before it made stays.
      this.#pendingReset = scope.reset.sql;
    }
    if (failure) throw withStatement(failure, text);
    this.#resetDone(mark); // the reset behind the caller's SQL ran
    return withoutScopeResult(withoutTrailingResults(result as PgResult[], scope.reset.results), prefix.results + 1, emptyResult());
  }

  /**
   * The transaction's first statement, with `BEGIN` and the scope in front. What is issued while it is
   * in flight waits; if it fails, what waited is not sent (a message refused whole never ran its BEGIN).
   */
  async #sendStart(trx: Transaction, text: string, values: readonly unknown[]): Promise<unknown> {
    const start = trx.start!;
    trx.start = undefined;
    trx.waiting = [];
    try {
      let result: unknown;
      if (values.length) {
        // Bound parameters go through the extended protocol, one statement per message: the start first.
        await super.query(start.sql);
        result = this.#send(text, values);
      } else {
        result = withoutScopeResult((await super.query(`${start.sql};\n${text}`)) as unknown as PgResult[], start.results, emptyResult());
      }
      const waiting = trx.waiting;
      trx.waiting = undefined;
      for (const waiter of waiting) waiter.send();
      return await result;
    } catch (error) {
      if (trx.waiting === undefined) throw withStatement(error, text); // the caller's statement itself failed
      const status = await this.#statusAfterFailure();
      const waiting = trx.waiting;
      trx.waiting = undefined;
      // Idle again: BEGIN never ran (a syntax error refuses the whole message), or the caller's SQL
      // committed before failing. The start stays pending for the next statement; the session is reset
      // before the connection's next use (what a raw COMMIT made stays otherwise).
      if (status === 'I') trx.start = start;
      if (status !== 'T' && status !== 'E') this.#pendingReset = trx.reset.sql;
      for (const waiter of waiting) waiter.fail(error);
      throw withStatement(error, text);
    }
  }

  #waitForStart<R>(trx: Transaction, send: () => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      trx.waiting!.push({ send: () => resolve(send()), fail: (error) => reject(new RlsTransactionStartError(error)) });
    });
  }

  /** COMMIT or ROLLBACK, with the session reset behind it in the same message. */
  async #endWithReset(trx: Transaction, text: string): Promise<unknown> {
    this.#transaction = undefined;
    if (this.#step && ROLLBACK.test(text)) this.#setStep(undefined);
    try {
      const results = (await super.query(`${text.trim()};\n${trx.reset.sql}`)) as unknown as PgResult[];
      return Array.isArray(results) ? results[0] : results;
    } catch (error) {
      this.#pendingReset = trx.reset.sql;
      throw withStatement(error, text);
    }
  }

  /**
   * Kysely gives a transaction's connection back to the pool only after a COMMIT or ROLLBACK that
   * succeeded, and never when its BEGIN failed: a connection whose BEGIN or ROLLBACK failed (the backend
   * was killed, the client timed out), or whose COMMIT failed on a connection that is gone, would stay
   * checked out for ever, and a pool of one would hang every later request. Nothing can use it again:
   * it goes back to the pool destroyed.
   */
  #afterFailure(text: string, error: unknown): never {
    if (BEGIN.test(text) || (END.test(text) && (ROLLBACK.test(text) || this.#status() === undefined))) {
      this.#guardedRelease(new Error(`mikro-orm-rls: a connection whose ${text.trim().toUpperCase()} failed was destroyed`));
    }
    throw error;
  }

  #submittable(config: any, values?: any, callback?: any): any {
    const store = claimStore(typeof config?.text === 'string' ? config.text : undefined);
    const refused = this.#refusedByStep(undefined, store);
    if (refused) throw new RlsConfigurationError(refused);
    const trx = this.#transaction;
    if (trx?.waiting) {
      throw new RlsConfigurationError(
        "A stream was opened while the transaction's first statement was in flight; await that statement before streaming.",
      );
    }
    if (trx?.start) {
      // A cursor cannot share a message: the start goes on its own, queued in front of it. If it fails,
      // BEGIN ran first, so the cursor fails in the aborted transaction rather than running outside it.
      const start = trx.start;
      trx.start = undefined;
      super.query(start.sql).catch(() => {
        // Safe to ignore here: the cursor queued behind it reports the aborted transaction to the caller.
      });
    } else if (!trx && store?.message) {
      // Whatever the object is (a stream's cursor, a pg query config), it cannot share the scope's message.
      throw new RlsConfigurationError(
        'A scoped fork sends a query object (a stream, or a pg query config instead of SQL) only inside a transaction: it cannot share ' +
          'the message that carries the scope. Run it in em.transactional(), or pass SQL to em.execute().',
      );
    } else if (!trx) {
      this.#markUnscoped();
    }
    return super.query(config, values, callback);
  }

  #status(): Status {
    if ((this as unknown as { _ending?: boolean })._ending || (this as unknown as { _queryable?: boolean })._queryable === false) return undefined;
    return (this.getTransactionStatus() ?? undefined) as Status;
  }

  /**
   * The transaction status once the server has finished with a failed message: an error is reported
   * before the ReadyForQuery that says where the message left the transaction. `'busy'` when it does not
   * come within {@link SETTLE_BOUND_MS} (the client gave up; the statement still runs).
   */
  #statusAfterFailure(): Promise<Status> {
    if ((this as unknown as { readyForQuery: boolean }).readyForQuery || this.#status() === undefined) return Promise.resolve(this.#status());
    return new Promise((resolve) => {
      const connection = this.connection as unknown as NodeJS.EventEmitter;
      const finish = (status: Status) => {
        clearTimeout(timer);
        connection.removeListener('readyForQuery', ready);
        this.removeListener('end', gone);
        this.removeListener('error', gone);
        resolve(status);
      };
      const ready = () => finish(this.#status());
      const gone = () => finish(undefined);
      const timer = setTimeout(() => finish('busy'), SETTLE_BOUND_MS);
      connection.once('readyForQuery', ready);
      this.once('end', gone);
      this.once('error', gone);
    });
  }

  /** Whether the connection may serve the next user: idle, nothing in flight, no step of ours open. */
  #reusable(): boolean {
    return (this as unknown as { readyForQuery: boolean }).readyForQuery === true && this.#status() === 'I' && !this.#step;
  }

  #guardedRelease(error?: Error | boolean): void {
    const poolRelease = this.#poolRelease;
    if (!poolRelease) return;
    // The pool hands the connection to whoever waits for one, and makes a new connection for them, from
    // inside this call: their callbacks would run in the releaser's async context, with its scope.
    const release: Release = (reason) => withoutStore(() => poolRelease(reason));
    this.#poolRelease = undefined;
    this.#handedOutBusy = false;
    // A transaction that never sent anything leaves nothing behind; any other state of ours ends here.
    this.#transaction = undefined;
    if (error) return release(error);
    if (!this.#reusable()) return release(new Error('mikro-orm-rls: a connection that was not idle (or mid bypass step) was destroyed'));
    const reset = this.#pendingReset ?? (this.#unscopedSince ? this.#sessionReset() : undefined);
    if (reset === undefined) return release();
    // After unscoped work, or scoped work that failed: the reset runs before anyone else gets the
    // connection, in a round trip of its own that the releasing caller does not wait for. The connection
    // holds its slot of the pool meanwhile, so a reset that does not finish in time (DISCARD TEMP waiting
    // on a lock another session holds on a temporary table) destroys it instead.
    let settled = false;
    const settle = (reason?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      release(reason);
    };
    const timer = setTimeout(() => settle(new Error(`mikro-orm-rls: a connection whose session reset took over ${RESET_BOUND_MS} ms was destroyed`)), RESET_BOUND_MS);
    const mark = this.#unscopedSent;
    super.query(reset).then(
      () => {
        this.#pendingReset = undefined;
        this.#resetDone(mark);
        settle(this.#reusable() ? undefined : new Error('mikro-orm-rls: a connection not idle after its reset was destroyed'));
      },
      (resetError: Error) => settle(resetError),
    );
  }
}

/**
 * The store of the statement `text`, if `text` is the one statement it was set for and no other took it
 * (see scope-storage.ts): work started in its async context (a connection hook, a timer) gets none.
 * A cursor (`text` undefined when the submittable has none) takes a store set without `sql`.
 */
function claimStore(text: string | undefined): ScopeStore | undefined {
  const store = scopeStorage.getStore();
  if (!store || store.claimed) return undefined;
  if (store.sql !== undefined && store.sql !== text) return undefined;
  if (store.begin && !(text !== undefined && BEGIN.test(text))) return undefined;
  if (store.armStep && !(text !== undefined && SAVEPOINT.test(text))) return undefined;
  store.claimed = true;
  return store;
}

/** Records on a pg error which statement of the caller failed (our statements around it excluded). */
function withStatement(error: unknown, text: string): unknown {
  if (error !== null && typeof error === 'object') (error as Record<symbol, string>)[FAILED_STATEMENT] = text;
  return error;
}

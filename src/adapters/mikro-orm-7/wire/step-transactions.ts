import { AsyncLocalStorage } from 'node:async_hooks';
import type { ControlledTransaction } from 'kysely';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { scopeStorage, sendWith } from './scope-storage';

type Transaction = ControlledTransaction<any, any>;

/** A nested bypass step, as the transactions of its admin manager know it. */
export interface StepRecord {
  readonly token: object;
  /** The step's own savepoint, which only the step itself ends. */
  readonly savepoint: object;
  /** Set while the step itself ends its savepoint. */
  closing: boolean;
  /** Set when the callback tried to end the step's savepoint (em.commit(), em.rollback()). */
  endedByCallback: boolean;
  /** Set once the step is over: its transactions are refused from then on. */
  over: boolean;
}

// The transactions (savepoints) of a nested bypass step: the step's savepoint and those its admin
// manager opens in it. Only statements a scoped view sends on one of these are tagged as the step's,
// so the step's pg client accepts them (see rls-pg-client.ts); raw Kysely on the same objects, or
// anything on the caller's transactions, is not.
const STEP_OF = new WeakMap<object, StepRecord>();

// The steps whose callback the current code runs in (or was started from). It grants nothing: a step
// started there on the caller's transaction is refused rather than left waiting for its own caller.
const insideStep = new AsyncLocalStorage<readonly object[]>();

export const STEP_ENDED_BY_CALLBACK =
  "A bypassRls(cb, { propagation: 'nested' }) callback ended the step's savepoint itself (em.commit() or em.rollback() on the " +
  "manager it was given, or its connection's commit or rollback), so the role switch could not be undone: the caller's transaction " +
  'was rolled back. Return from the callback (or throw) instead; the step commits or rolls back its savepoint itself.';

const STEP_OVER =
  "This transaction context is a savepoint of a bypassRls(cb, { propagation: 'nested' }) step that is over (a fork of the step's " +
  "manager kept it, e.g. with keepTransactionContext): its statements would run in the caller's transaction. Use the caller's " +
  'manager after the step, or call bypassRls again.';

/** Opens the step `token` on `savepoint`, its own. */
export function openStep(savepoint: object, token: object): StepRecord {
  const record: StepRecord = { token, savepoint, closing: false, endedByCallback: false, over: false };
  STEP_OF.set(savepoint, record);
  return record;
}

/** Makes `trx`, a savepoint opened in a transaction of the step, one of its transactions. */
export function joinStep(trx: object, record: StepRecord): void {
  STEP_OF.set(trx, record);
}

/** The step `trx` belongs to, if any; throws if that step is over. */
export function stepOf(trx: object | undefined): StepRecord | undefined {
  const record = trx ? STEP_OF.get(trx) : undefined;
  if (record?.over) throw new RlsConfigurationError(STEP_OVER);
  return record;
}

/** Runs a step's callback, marked as inside the step (see `insideStep`). */
export function runInside<R>(token: object, callback: () => R): R {
  return insideStep.run([...(insideStep.getStore() ?? []), token], callback);
}

/** The steps the current code runs inside. */
export function stepsInside(): readonly object[] {
  return insideStep.getStore() ?? [];
}

/**
 * The transaction MikroORM's commit or rollback is given, for `trx` of the step `record`: tagged, or
 * refused when it is the step's own savepoint and the step is not the one ending it (the callback is).
 */
export function endingView(trx: Transaction, record: StepRecord): Transaction {
  if (trx === record.savepoint && !record.closing) {
    record.endedByCallback = true;
    throw new RlsConfigurationError(STEP_ENDED_BY_CALLBACK);
  }
  return stepView(trx, record.token);
}

/** Kysely's `executeQuery` of `client`, with each statement sent tagged by `store(sql)` (the `ctx` MikroORM's execute calls). */
export function taggedExecutor(client: Pick<Transaction, 'executeQuery'>, store: (sql: string) => object): Pick<Transaction, 'executeQuery'> {
  return {
    executeQuery: ((compiled: { sql: string }, ...rest: unknown[]) =>
      sendWith(store(compiled.sql), () => (client.executeQuery as (...args: unknown[]) => unknown)(compiled, ...rest))) as never,
  };
}

// What MikroORM's begin, commit, rollback and stream call on a transaction to send a statement (see
// internals.ts). Each command's `execute` is the call that sends it.
const COMMANDS = new Set<PropertyKey>(['savepoint', 'releaseSavepoint', 'rollbackToSavepoint', 'commit', 'rollback']);

/**
 * `trx` as MikroORM's connection sees it when the step's admin view ends or nests a savepoint, or
 * streams: every statement it sends through it is tagged as the step's, and only that statement (the
 * store is entered around Kysely's command alone, not around the subscribers MikroORM dispatches). A
 * Proxy, reading through to `trx` itself: Kysely's transactions keep their state in #private fields.
 */
export function stepView(trx: Transaction, token: object): Transaction {
  return new Proxy(trx, {
    get(target, prop) {
      if (COMMANDS.has(prop)) {
        return (...args: unknown[]) => {
          const command = (target as unknown as Record<PropertyKey, (...a: unknown[]) => { execute(): Promise<unknown> }>)[prop as string](...args);
          // A step nested in this one (its admin manager's bypassRls): the savepoint arms it too.
          const enclosing = scopeStorage.getStore();
          const armStep = enclosing && !enclosing.claimed ? enclosing.armStep : undefined;
          return { execute: () => sendWith({ step: token, armStep }, () => command.execute()) };
        };
      }
      if (prop === 'getExecutor') return () => streamingExecutor(target.getExecutor(), token);
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The executor of a step transaction, whose streams open their cursor (on the first read) tagged as the step's. */
function streamingExecutor(executor: ReturnType<Transaction['getExecutor']>, token: object): ReturnType<Transaction['getExecutor']> {
  return new Proxy(executor, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (prop !== 'stream') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      return (compiled: { sql: string }, ...rest: unknown[]) => {
        const iterable = (value as (...a: unknown[]) => AsyncIterable<unknown>).call(target, compiled, ...rest);
        return {
          [Symbol.asyncIterator]() {
            const iterator = iterable[Symbol.asyncIterator]();
            // Each read in a store of its own: only the first sends a statement (the cursor), later reads
            // go on the open portal. The caller's code between reads runs outside.
            const tagged = (step: (i: AsyncIterator<unknown>) => Promise<IteratorResult<unknown>>) => sendWith({ step: token, sql: compiled.sql }, () => step(iterator));
            return {
              next: () => tagged((i) => i.next()),
              return: (v?: unknown) => tagged((i) => i.return?.(v) ?? Promise.resolve({ done: true, value: v })),
              throw: (e?: unknown) => tagged((i) => i.throw?.(e) ?? Promise.reject(e)),
            };
          },
        };
      };
    },
  });
}

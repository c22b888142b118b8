import type { ControlledTransaction } from 'kysely';
import { sendWith } from './scope-storage';

type Transaction = ControlledTransaction<any, any>;

// The transactions (savepoints) of a nested bypass step: the step's savepoint and those its admin
// manager opens in it, each with the step's token. Only statements a scoped view sends on one of these
// are tagged as the step's, so the step's pg client accepts them (see rls-pg-client.ts); raw Kysely on
// the same objects, or anything on the caller's transactions, is not.
const STEP_OF = new WeakMap<object, object>();

/** Makes `trx` a transaction of the step `token` (until {@link endStepTransaction}). */
export function joinStep(trx: object, token: object): void {
  STEP_OF.set(trx, token);
}

export function endStepTransaction(trx: object): void {
  STEP_OF.delete(trx);
}

/** The step `trx` belongs to, if any. */
export function stepOf(trx: object | undefined): object | undefined {
  return trx ? STEP_OF.get(trx) : undefined;
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
          return { execute: () => sendWith({ step: token }, () => command.execute()) };
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

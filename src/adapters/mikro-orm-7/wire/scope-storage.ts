import { AsyncLocalStorage } from 'node:async_hooks';
import type { ScopeSql } from '../../../core/scope/rls-scope';

/**
 * What one statement runs with, handed from MikroORM's connection (where the fork is known) to the pg
 * client (where the SQL is sent): MikroORM 7 and Kysely pass no per-statement argument down that far.
 *
 * A store is entered only around Kysely's own call that sends the statement (its `executeQuery`, or the
 * command of a BEGIN or savepoint), never around MikroORM's `execute` as a whole: its `onQuery` hook and
 * logger, and whatever they start (a query, a timer), run outside it. And a store serves one statement:
 * the first one the pg client receives in its context that is the statement it was set for (`sql`, or
 * a BEGIN, or a SAVEPOINT). Anything else sent in its context (a pool or Kysely connection hook, a
 * second statement) runs without it. The pg client marks it `claimed`.
 * - `message`: a statement outside a transaction, sent behind the scope in one message;
 * - `begin`: Kysely's BEGIN of a scoped transaction, kept back and sent with the first statement;
 * - `step`: a statement of a nested bypass step (see bypass-in-transaction.ts), the only ones the
 *   step's connection accepts while it runs; `armStep` opens such a step on its savepoint.
 */
export interface ScopeStore {
  readonly message?: ScopeSql;
  readonly begin?: ScopeSql;
  readonly step?: object;
  readonly armStep?: {
    readonly token: object;
    readonly reset: ScopeSql['reset'];
    /** The steps whose callbacks started this one (it must not wait for them to end). */
    readonly within: readonly object[];
  };
  /** The exact SQL of the statement this store is for, when known (what Kysely hands the pg client). */
  readonly sql?: string;
  /** Set by the pg client on the statement that used this store. */
  claimed?: boolean;
}

export const scopeStorage = new AsyncLocalStorage<ScopeStore>();

/**
 * Runs `work` with no store: what it starts (a pool's or Kysely's connection hook, a waiting caller's
 * callback) takes no scope. Not `scopeStorage.exit()`: on Node 22 that disables the storage for the call
 * and enables it again, turning V8's promise hooks off and on for the whole process, twice per
 * statement; a store of `undefined` has the same effect on `getStore()` at the cost of one assignment.
 */
export function withoutStore<R>(work: () => R): R {
  return scopeStorage.run(undefined as unknown as ScopeStore, work);
}

/** Runs `send` (Kysely's call that sends one statement) with `store`, a new object for that statement. */
export function sendWith<R>(store: ScopeStore, send: () => R): R {
  return scopeStorage.run({ ...store }, send);
}

import { AsyncLocalStorage } from 'node:async_hooks';
import type { ScopeSql } from '../../../core/scope/rls-scope';

/**
 * What the statement being sent runs with, handed from MikroORM's connection (where the fork is known)
 * to the pg client (where the SQL is sent): MikroORM 7 and Kysely pass no per-statement argument down
 * that far. Set only around one statement, never around user code:
 * - `message`: a statement outside a transaction, sent behind the scope in one message;
 * - `begin`: Kysely's BEGIN of a scoped transaction, kept back and sent with the first statement;
 * - `step`: the statements of a nested bypass step (see bypass-in-transaction.ts), the only ones the
 *   step's connection accepts while it runs; `armStep` opens such a step on its savepoint.
 */
export interface ScopeStore {
  readonly message?: ScopeSql;
  readonly begin?: ScopeSql;
  readonly step?: object;
  readonly armStep?: { readonly token: object; readonly reset: ScopeSql['reset'] };
}

export const scopeStorage = new AsyncLocalStorage<ScopeStore>();

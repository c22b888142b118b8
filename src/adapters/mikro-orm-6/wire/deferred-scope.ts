import type { Knex } from '@mikro-orm/knex';
import type { ScopeSql } from '../../../core/scope/rls-scope';
import { trackConnection, type PooledConnection } from './connection-state';
import { needsSessionReset } from './session-reset';
import { sendsSessionReset } from './unscoped-work';
import { armTransactionStart, transactionStarted, type TransactionClient } from './transaction-start-gate';

/** The parts of knex's (internal) Transaction this module relies on. */
interface KnexTransaction {
  trxClient: TransactionClient;
  isolationLevel?: string;
  readOnly?: boolean;
  begin(connection: unknown): Promise<unknown>;
  catch(onRejected: (error: unknown) => void): unknown;
}

type KnexClientWithTransactions = { transaction(container: (trx: Knex.Transaction) => void, config: object): KnexTransaction };

/**
 * Opens a knex transaction whose start is not a round trip of its own: `BEGIN` and the scope statement
 * (values written in as literals) travel in the same message as the transaction's first statement,
 * whoever sends it (MikroORM, a subscriber, raw knex on the transaction). So the scope still precedes
 * everything in the transaction, and a scoped transaction costs one round trip less than MikroORM's
 * own. The hook lives on the transaction's own knex client, which dies with the transaction, so it can
 * never reach another transaction on the same pooled connection.
 */
export function beginScopedTransaction(knex: Knex, options: { isolationLevel?: string; readOnly?: boolean }, scope: ScopeSql): Promise<Knex.Transaction> {
  return new Promise((resolve, reject) => {
    // What `knex.transaction(null, config)` does, keeping hold of the Transaction before it begins
    // (it begins asynchronously, once it has a connection).
    const config = { isolationLevel: options.isolationLevel, readOnly: options.readOnly, userParams: {}, doNotRejectOnRollback: true };
    const transaction = (knex.client as unknown as KnexClientWithTransactions).transaction(resolve, config);
    transaction.begin = function deferStart(this: KnexTransaction, connection: PooledConnection) {
      trackConnection(connection);
      const begin = beginStatement(this);
      resetSessionAtEnd(this.trxClient, connection, scope.reset);
      armTransactionStart(this.trxClient, connection, { literal: `${begin};\n${scope.literal}`, redacted: `${begin};\n${scope.redacted}`, reset: scope.reset });
      return Promise.resolve();
    };
    transaction.catch(reject);
  });
}

/**
 * Resolves once the transaction has started: sends a still-pending start on its own, or waits for the
 * one in flight. Needed before a savepoint, which knex sends through the savepoint's own client and
 * which needs the transaction (and the scope) to exist first.
 */
export function startPendingTransaction(trx: Knex.Transaction): Promise<void> {
  return transactionStarted(trx.client as unknown as TransactionClient);
}

// The transaction clients whose end already carries a session reset.
const RESETTING_AT_END = new WeakSet<TransactionClient>();

/**
 * Makes the end of `trx`, a transaction that was not opened with a scope (an unscoped fork's), carry the
 * session reset too, from now on: for a scoped step run inside it (`bypassRls(cb, { propagation:
 * 'nested' })`), whose raw SQL could change session state that would otherwise outlive the transaction
 * on the pooled connection. A no-op for a scoped transaction, whose end carries the reset already.
 */
export async function resetSessionAtEndOf(trx: Knex.Transaction, reset: ScopeSql['reset']): Promise<void> {
  const client = trx.client as unknown as TransactionClient;
  if (RESETTING_AT_END.has(client)) return;
  // knex's transaction client hands out the transaction's one connection.
  const connection = (await client.acquireConnection()) as PooledConnection;
  resetSessionAtEnd(client, connection, reset);
}

/**
 * The transaction's end, COMMIT or ROLLBACK, carries the session reset in the same message: what the
 * transaction's raw SQL changed at session level (`SET ROLE`, `set_config(..., false)`) would otherwise
 * outlive it on the pooled connection. A ROLLBACK alone is not enough: raw SQL can COMMIT in the middle
 * of the transaction (`set role x; commit; begin`), and what it committed stays. After either end the
 * reset runs in an implicit transaction of its own; a COMMIT that fails rolls back its transaction, and
 * the reset then never runs, so the connection is reset on its own before it goes back to the pool.
 */
function resetSessionAtEnd(client: TransactionClient, connection: PooledConnection, reset: ScopeSql['reset']): void {
  if (RESETTING_AT_END.has(client)) return;
  RESETTING_AT_END.add(client);
  const send = client.query;
  client.query = function endAndReset(conn, query) {
    if (query !== 'COMMIT;' && query !== 'ROLLBACK') return send.call(client, conn, query);
    const sql = `${query}${query.endsWith(';') ? '' : ';'}\n${reset.sql}`;
    sendsSessionReset(conn as object, sql);
    return send.call(client, conn, { sql }).then(
      (result) => {
        if (result && Array.isArray(result.response)) result.response = result.response[0];
        return result;
      },
      (error: unknown) => {
        needsSessionReset(connection, reset);
        throw error;
      },
    );
  };
}

function beginStatement(transaction: KnexTransaction): string {
  const mode = [transaction.isolationLevel && `ISOLATION LEVEL ${transaction.isolationLevel}`, transaction.readOnly && 'READ ONLY'].filter(Boolean).join(' ');
  return mode ? `BEGIN TRANSACTION ${mode}` : 'BEGIN';
}

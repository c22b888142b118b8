import type { Knex } from '@mikro-orm/knex';
import { redactScopeStatement, withoutScopeResult, type ScopeSql } from './rls-scope';
import { settledTransactionStatus, trackConnection, type PooledConnection } from './connection-state';
import { emptyPgResult } from './scope-in-one-message';
import { needsSessionReset } from './session-reset';

/** What knex hands its client for one statement (a plain string for its own COMMIT/ROLLBACK/SAVEPOINT). */
interface KnexQuery {
  sql: string;
  bindings?: readonly unknown[];
  response?: unknown;
}

/** The per-transaction knex client: every statement of one transaction passes through its `query`. */
interface TransactionClient {
  query(connection: unknown, query: string | KnexQuery): Promise<KnexQuery | undefined>;
  stream(connection: unknown, query: KnexQuery, stream: unknown, options: unknown): Promise<unknown>;
  acquireConnection(): Promise<unknown>;
}

/** The parts of knex's (internal) Transaction this module relies on. */
interface KnexTransaction {
  trxClient: TransactionClient;
  isolationLevel?: string;
  readOnly?: boolean;
  begin(connection: unknown): Promise<unknown>;
  catch(onRejected: (error: unknown) => void): unknown;
}

type KnexClientWithTransactions = { transaction(container: (trx: Knex.Transaction) => void, config: object): KnexTransaction };

const PENDING = Symbol('mikro-orm-rls pending transaction start');

interface Pending {
  readonly send: TransactionClient['query'];
  readonly stream: TransactionClient['stream'];
  /** The transaction's connection (a node-postgres client). */
  readonly connection: PooledConnection;
  /** `BEGIN` and the scope statement, sent in front of the transaction's first statement. */
  readonly start: ScopeSql;
}


type Armed = TransactionClient & { [PENDING]?: Pending };

// The transaction start is two statements, BEGIN and the scope's select: two results to drop.
const START_STATEMENTS = 2;
// knex's own end of a top-level transaction. If the transaction never ran a statement, nothing was
// sent, and there is nothing to end.
const KNEX_END = /^(COMMIT;|ROLLBACK)$/;

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
      arm(this.trxClient, connection, { literal: `${begin};\n${scope.literal}`, redacted: `${begin};\n${scope.redacted}`, reset: scope.reset });
      return Promise.resolve();
    };
    transaction.catch(reject);
  });
}

/**
 * Sends a still-pending transaction start on its own. Needed before a savepoint, which knex sends
 * through the savepoint's own client and which needs the transaction (and the scope) to exist first.
 */
export async function startPendingTransaction(trx: Knex.Transaction): Promise<void> {
  const client = trx.client as unknown as Armed;
  // Disarmed and sent in one synchronous step: a statement sent on the transaction meanwhile would
  // otherwise go out first, without BEGIN.
  const pending = disarm(client);
  if (pending) await pending.send.call(client, pending.connection, pending.start.literal);
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
  const send = client.query;
  client.query = function endAndReset(conn, query) {
    if (query !== 'COMMIT;' && query !== 'ROLLBACK') return send.call(client, conn, query);
    return send.call(client, conn, { sql: `${query}${query.endsWith(';') ? '' : ';'}\n${reset.sql}` }).then(
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

function arm(client: Armed, connection: PooledConnection, start: ScopeSql): void {
  const { query: send, stream } = client;
  client[PENDING] = { send, stream, connection, start };
  client.stream = function streamFirstStatement(conn, query, target, options) {
    // A stream cannot share a message: start the transaction on its own, then stream.
    disarm(client);
    return send.call(client, conn, start.literal).then(() => stream.call(client, conn, query, target, options));
  };
  client.query = function sendFirstStatement(conn, query) {
    disarm(client);
    if (typeof query === 'string' && KNEX_END.test(query)) return Promise.resolve({ sql: query, response: emptyPgResult() });
    const statement: KnexQuery = typeof query === 'string' ? { sql: query } : query;
    if (statement.bindings?.length) {
      // A statement with bound parameters goes through the extended protocol, one statement per
      // message; the start then needs a message of its own.
      return send.call(client, conn, start.literal).then(() => send.call(client, conn, query));
    }
    const combined: KnexQuery = { ...statement, sql: `${start.literal};\n${statement.sql}` };
    return send.call(client, conn, combined).then(
      (result) => {
        if (result) result.response = withoutScopeResult(result.response, START_STATEMENTS, emptyPgResult());
        return result;
      },
      async (error: unknown) => {
        // PostgreSQL parses a whole message before it runs any of it: a syntax error in the caller's
        // statement means BEGIN never ran, and the transaction must still start with the next
        // statement. Re-armed at once (a statement sent meanwhile must not go out without BEGIN), and
        // disarmed again if the server reports that BEGIN did run.
        arm(client, connection, start);
        const status = await settledTransactionStatus(connection);
        if (status !== 'I' && client[PENDING]?.start === start) disarm(client);
        return redactScopeStatement(error, start);
      },
    );
  };
}

function disarm(client: Armed): Pending | undefined {
  const pending = client[PENDING];
  if (pending) {
    client.query = pending.send;
    client.stream = pending.stream;
    delete client[PENDING];
  }
  return pending;
}

import { statusAfterFailure } from './bounded-settle';
import { needsSessionReset } from './session-reset';
import type { PooledConnection } from './connection-state';
import { withoutScopeResult, type ScopeSql } from '../../../core/scope/rls-scope';
import { redactScope } from './error-redaction';
import { RlsTransactionStartError } from './rls-transaction-start-error';
import { emptyPgResult } from './scope-in-one-message';

/** What knex hands its client for one statement (a plain string for its own COMMIT/ROLLBACK/SAVEPOINT). */
export interface KnexQuery {
  sql: string;
  bindings?: readonly unknown[];
  response?: unknown;
}

/** The per-transaction knex client: every statement of one transaction passes through its `query`. */
export interface TransactionClient {
  query(connection: unknown, query: string | KnexQuery): Promise<KnexQuery | undefined>;
  stream(connection: unknown, query: KnexQuery, stream: unknown, options: unknown): Promise<unknown>;
  acquireConnection(): Promise<unknown>;
}

const GATE = Symbol('mikro-orm-rls transaction start gate');

/** A statement held behind the start: sent once the transaction has started, or failed with the start. */
interface Waiter {
  send(): void;
  fail(startError: unknown): void;
}

interface Gate {
  readonly send: TransactionClient['query'];
  readonly stream: TransactionClient['stream'];
  /** The transaction's connection (a node-postgres client). */
  readonly connection: PooledConnection;
  /** `BEGIN` and the scope statement, sent in front of the transaction's first statement. */
  readonly start: ScopeSql;
  /** Set while the message carrying the start is in flight: the statements issued meanwhile, in order. */
  waiting?: Waiter[];
}

type Gated = TransactionClient & { [GATE]?: Gate };

// The transaction start is two statements, BEGIN and the scope's select: two results to drop.
const START_STATEMENTS = 2;
// knex's own end of a top-level transaction. If the transaction never ran a statement, nothing was
// sent, and there is nothing to end.
const KNEX_END = /^(COMMIT;|ROLLBACK)$/;
const isEnd = (query: unknown) => typeof query === 'string' && KNEX_END.test(query);

/**
 * Puts the transaction start (`start`: BEGIN and the scope statement) in front of the first statement
 * sent through `client`, whoever sends it. No other statement of the transaction goes out before the
 * start has run: a statement issued while the message carrying the start is in flight waits for it, and
 * is sent once the transaction has started, in the order issued. If that message fails, the statements
 * that waited are not sent (they fail with an RlsTransactionStartError naming the first failure): had
 * they been queued on the connection behind it, a message refused whole (a syntax error; BEGIN never
 * ran) would have left them running outside the transaction, unscoped, each committing on its own.
 * knex's COMMIT and ROLLBACK are the exception (see below): they end the transaction, whatever waits.
 */
export function armTransactionStart(client: Gated, connection: PooledConnection, start: ScopeSql): void {
  const gate: Gate = { send: client.query, stream: client.stream, connection, start };
  client[GATE] = gate;
  client.query = function gatedQuery(conn, query) {
    if (isEnd(query)) {
      // Nothing sent yet: nothing to end. Otherwise sent at once, behind the message in flight: knex
      // takes the transaction as ended the moment it issues COMMIT or ROLLBACK and refuses whatever of
      // it is handed on later, this statement included. Neither can run anything unscoped: if BEGIN did
      // not run, PostgreSQL answers them with a warning.
      return gate.waiting ? gate.send.call(client, conn, query) : Promise.resolve({ sql: query as string, response: emptyPgResult() });
    }
    if (gate.waiting) return waitForStart(gate, () => gate.send.call(client, conn, query));
    const statement: KnexQuery = typeof query === 'string' ? { sql: query } : query;
    if (statement.bindings?.length) {
      // A statement with bound parameters goes through the extended protocol, one statement per
      // message; the start then needs a message of its own.
      return sendStart(client, gate, () => gate.send.call(client, conn, start.literal), () => gate.send.call(client, conn, query));
    }
    const combined: KnexQuery = { ...statement, sql: `${start.literal};\n${statement.sql}` };
    return sendStart(client, gate, () => gate.send.call(client, conn, combined)).then((result) => {
      if (result) result.response = withoutScopeResult(result.response, START_STATEMENTS, emptyPgResult());
      return result;
    });
  };
  client.stream = function gatedStream(conn, query, target, options) {
    const streamIt = () => gate.stream.call(client, conn, query, target, options);
    if (gate.waiting) return waitForStart(gate, streamIt);
    // A stream cannot share a message: start the transaction on its own, then stream.
    return sendStart(client, gate, () => gate.send.call(client, conn, start.literal), streamIt);
  };
}

/**
 * Sends a still-pending transaction start on its own, or waits for the one in flight; resolves once the
 * transaction has started (rejects if it could not). Needed before a savepoint, which knex sends
 * through the savepoint's own client, past this gate, and which needs the transaction (and the scope)
 * to exist first.
 */
export function transactionStarted(client: Gated): Promise<void> {
  const gate = client[GATE];
  if (!gate) return Promise.resolve();
  if (gate.waiting) return waitForStart(gate, () => Promise.resolve());
  const conn = gate.connection;
  return sendStart(client, gate, () => gate.send.call(client, conn, gate.start.literal)).then(() => undefined);
}

/**
 * Sends the message that carries the start; statements issued until its outcome is known wait. Once
 * the transaction has started, `next` (the caller's statement, when the start went in a message of its
 * own) is sent first, then what waited; its result is the answer.
 */
function sendStart<R>(client: Gated, gate: Gate, message: () => Promise<R>, next?: () => Promise<R>): Promise<R> {
  gate.waiting = [];
  return message().then(
    (result) => {
      const answer = next ? next() : result;
      release(client, gate);
      return answer;
    },
    async (error: unknown) => {
      redactScope(error, gate.start);
      // PostgreSQL parses a whole message before it runs any of it: a syntax error means BEGIN never
      // ran, and the transaction must still start with the next statement issued after this outcome.
      // The server says where the message left the transaction on its ReadyForQuery, after the error;
      // after a client-side timeout it is still busy with the message, which may well have begun.
      const status = await statusAfterFailure(gate.connection);
      const begun = status !== 'I';
      // Idle after the failure also when the caller's SQL committed the transaction before failing
      // (`set role x; commit; select 1/0`): what it committed at session level stays, and no ROLLBACK
      // (which carries the reset) will be sent for a transaction taken as never begun. Still busy: the
      // connection may end up idle with the same state. Either way, reset it before its next use.
      if (status !== 'T' && status !== 'E') needsSessionReset(gate.connection, gate.start.reset);
      const waiting = gate.waiting ?? [];
      gate.waiting = undefined;
      if (begun) disarm(client, gate);
      for (const waiter of waiting) waiter.fail(error);
      throw error;
    },
  );
}

/** The transaction has started: the gate goes, and what waited is sent, in the order it was issued. */
function release(client: Gated, gate: Gate): void {
  const waiting = gate.waiting ?? [];
  disarm(client, gate);
  for (const waiter of waiting) waiter.send();
}

function disarm(client: Gated, gate: Gate): void {
  if (client[GATE] !== gate) return;
  client.query = gate.send;
  client.stream = gate.stream;
  delete client[GATE];
  gate.waiting = undefined;
}

function waitForStart<R>(gate: Gate, send: () => Promise<R>): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    gate.waiting!.push({
      // Sent synchronously as the start succeeds, so that what waited goes out in the order it was issued.
      send: () => resolve(send()),
      fail: (startError) => reject(new RlsTransactionStartError(startError)),
    });
  });
}

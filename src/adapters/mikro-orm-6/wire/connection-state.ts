/**
 * The parts of a node-postgres client (as knex pools them) needed to know its transaction state.
 * Only members present in the `pg` that `@mikro-orm/postgresql` 6.6.16 pins (8.20.0) are used: that
 * version has no `Client#getTransactionStatus` (added in 8.21), so the status is read from the
 * ReadyForQuery messages themselves, which carry it.
 */
export interface PooledConnection {
  /** pg's own flag: false while a message is in flight (set again on ReadyForQuery). */
  readyForQuery: boolean;
  /** The wire connection: emits every ReadyForQuery message, with its transaction status. */
  connection: {
    on(event: 'readyForQuery', listener: (message: { status?: string }) => void): void;
    once(event: 'readyForQuery', listener: () => void): void;
    removeListener(event: string, listener: (...args: never[]) => void): void;
  };
  once(event: 'end' | 'error', listener: () => void): void;
  removeListener(event: string, listener: () => void): void;
  /**
   * pg's own (undocumented, underscored) flags, the only record of a client's end once its `end` and
   * `error` events are over: `_ending` once `end()` was called, `_ended` once the socket closed,
   * `_queryable` false after a connection error. Read where present; absent, the events alone count.
   */
  _ending?: boolean;
  _ended?: boolean;
  _queryable?: boolean;
}

/** Whether node-postgres itself knows the client will never answer again (see the flags above). */
function clientEnded(connection: PooledConnection): boolean {
  return connection._ending === true || connection._ended === true || connection._queryable === false;
}

/** 'I' idle, 'T' in a transaction, 'E' in a failed transaction, as of the last ReadyForQuery. */
export type TransactionStatus = 'I' | 'T' | 'E';

interface Tracked {
  status: TransactionStatus;
  ended: boolean;
}

const TRACKED = new WeakMap<PooledConnection, Tracked>();

/**
 * Starts following a connection's transaction status. Called when a connection is first used for scoped
 * work; the connection is then idle (a pooled connection is handed out between messages), so that is
 * the status it starts from.
 */
function tracked(connection: PooledConnection): Tracked {
  let state = TRACKED.get(connection);
  if (!state) {
    // A client can end before anything of ours follows it (killed in a statement of unscoped work, then
    // handed over): its events are over by then, and only its own flags say so.
    const created: Tracked = { status: 'I', ended: clientEnded(connection) };
    state = created;
    connection.connection.on('readyForQuery', (message) => {
      created.status = (message?.status as TransactionStatus | undefined) ?? created.status;
    });
    const gone = () => {
      created.ended = true;
    };
    connection.once('end', gone);
    connection.once('error', gone);
    TRACKED.set(connection, created);
  }
  return state;
}

/**
 * Begins following `connection` (idempotent). Must be called before the first message of ours is sent
 * on it, so that the ReadyForQuery answering that message is seen.
 */
export function trackConnection(connection: PooledConnection): void {
  tracked(connection);
}

/** The status as of the last ReadyForQuery; `undefined` if the connection has ended. */
export function transactionStatus(connection: PooledConnection): TransactionStatus | undefined {
  const state = tracked(connection);
  if (clientEnded(connection)) state.ended = true;
  return state.ended ? undefined : state.status;
}

/**
 * The connection's transaction status once the server has finished with the last message. A failed
 * statement is reported (ErrorResponse) before the server says where the message left the transaction
 * (ReadyForQuery), so after an error the status must be awaited, not read. `undefined` if the
 * connection ended, before or while waiting: a client that has already ended never emits again, so
 * that is checked first, by its events and by its own flags (waiting on it would never settle).
 */
export async function settledTransactionStatus(connection: PooledConnection): Promise<TransactionStatus | undefined> {
  if (transactionStatus(connection) === undefined) return undefined;
  if (!connection.readyForQuery) {
    const ended = await new Promise<boolean>((resolve) => {
      const ready = () => finish(false);
      const gone = () => finish(true);
      const finish = (end: boolean) => {
        connection.connection.removeListener('readyForQuery', ready);
        connection.removeListener('end', gone);
        connection.removeListener('error', gone);
        resolve(end);
      };
      connection.connection.once('readyForQuery', ready);
      connection.once('end', gone);
      connection.once('error', gone);
    });
    if (ended) return undefined;
  }
  return transactionStatus(connection);
}

/** The parts of a node-postgres client (as knex pools them) needed to read its transaction state. */
export interface PooledConnection {
  /** 'I' idle, 'T' in a transaction, 'E' in a failed transaction, as of the last ReadyForQuery. */
  getTransactionStatus(): string | null;
  readyForQuery: boolean;
  connection: { once(event: 'readyForQuery', listener: () => void): void; removeListener(event: string, listener: () => void): void };
  once(event: 'end' | 'error', listener: () => void): void;
  removeListener(event: string, listener: () => void): void;
}

/**
 * The connection's transaction status once the server has finished with the last message. A failed
 * statement is reported (ErrorResponse) before the server says where the message left the transaction
 * (ReadyForQuery), so after an error the status must be awaited, not read. `undefined` if the
 * connection ended meanwhile.
 */
export async function settledTransactionStatus(connection: PooledConnection): Promise<string | null | undefined> {
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
  return connection.getTransactionStatus();
}

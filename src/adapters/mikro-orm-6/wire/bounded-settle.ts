import { settledTransactionStatus, type PooledConnection, type TransactionStatus } from './connection-state';

/**
 * How long a failed message may take to be followed by the server's ReadyForQuery. When the server
 * reported the error, ReadyForQuery follows at once (usually in the same packet). When the client gave
 * up instead (node-postgres' `query_timeout`), the server is still running the statement, or waiting on
 * a lock, and ReadyForQuery comes only when it ends: waiting for it would make the timeout meaningless.
 */
const SETTLE_BOUND_MS = 100;

/**
 * The connection's transaction status after a failed message, or `'busy'` when the server has not
 * finished with the message within {@link SETTLE_BOUND_MS}: the statement was abandoned by the client
 * and still runs. Such a connection must not be used again (the pool guard destroys it, since it is not
 * ready for a query, or not idle once it is).
 */
export async function statusAfterFailure(connection: PooledConnection): Promise<TransactionStatus | undefined | 'busy'> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'busy'>((resolve) => {
    timer = setTimeout(() => resolve('busy'), SETTLE_BOUND_MS);
  });
  try {
    return await Promise.race([settledTransactionStatus(connection), bound]);
  } finally {
    clearTimeout(timer);
  }
}

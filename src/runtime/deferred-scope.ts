import type { Knex } from '@mikro-orm/knex';
import { hideScopeStatement, withoutScopeResult } from './rls-scope';

/** What knex hands its client for one statement (a string for its own BEGIN/COMMIT/SAVEPOINT). */
interface KnexQuery {
  sql: string;
  bindings?: readonly unknown[];
  response?: unknown;
}

/** The per-transaction knex client: every statement of one transaction passes through its `query`. */
interface TransactionClient {
  query(connection: unknown, query: string | KnexQuery): Promise<KnexQuery | undefined>;
  acquireConnection(): Promise<unknown>;
}

// What node-postgres reports for a message without statements.
const EMPTY_RESULT = { command: null, rowCount: null, rows: [], fields: [] };

const PENDING = Symbol('mikro-orm-rls pending scope');

type Pending = { readonly send: TransactionClient['query']; readonly sql: string };
type Armed = Knex.Transaction & { [PENDING]?: Pending };

// Nothing after these needs the scope, and a failing scope statement in front of COMMIT would leave
// the transaction open in an aborted state instead of ending it.
const ENDS_TRANSACTION = /^\s*(commit|rollback|end|abort)\b/i;

/**
 * Makes the transaction's first statement carry `sql` (the scope statement, values written in as
 * literals) in front of it, in the same message: the scope costs no round trip of its own, and
 * still precedes everything that runs in the transaction, whoever sends it (MikroORM, a subscriber,
 * raw knex on the transaction). The wrapper lives on the transaction's own knex client, which dies
 * with the transaction, so it can never reach another transaction on the same pooled connection.
 */
export function deferScope(trx: Knex.Transaction, sql: string): void {
  const client = trx.client as unknown as TransactionClient;
  const send = client.query;
  (trx as Armed)[PENDING] = { send, sql };
  client.query = function sendFirstStatement(connection, query) {
    disarm(trx);
    const statement: KnexQuery = typeof query === 'string' ? { sql: query } : query;
    if (ENDS_TRANSACTION.test(statement.sql)) return send.call(client, connection, query);
    if (statement.bindings?.length) {
      // A statement with bound parameters goes through the extended protocol, one statement per
      // message; the scope then needs a message of its own.
      return send.call(client, connection, sql).then(() => send.call(client, connection, query));
    }
    const combined: KnexQuery = { ...statement, sql: `${sql};\n${statement.sql}` };
    return send.call(client, connection, combined).then(
      (result) => {
        if (result) result.response = withoutScopeResult(result.response, EMPTY_RESULT);
        return result;
      },
      (error: unknown) => hideScopeStatement(error, sql),
    );
  };
}

/**
 * Sends a still-deferred scope statement on its own. Needed before a savepoint: a scope set inside
 * one would be undone by `ROLLBACK TO SAVEPOINT`.
 */
export async function applyDeferredScope(trx: Knex.Transaction): Promise<void> {
  const pending = disarm(trx);
  if (!pending) return;
  const client = trx.client as unknown as TransactionClient;
  await pending.send.call(client, await client.acquireConnection(), pending.sql);
}

function disarm(trx: Knex.Transaction): Pending | undefined {
  const pending = (trx as Armed)[PENDING];
  if (pending) {
    (trx.client as unknown as TransactionClient).query = pending.send;
    delete (trx as Armed)[PENDING];
  }
  return pending;
}

import { TransactionContext } from '@mikro-orm/core';
import type { Knex } from '@mikro-orm/knex';
import type { EntityManager } from '@mikro-orm/postgresql';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { resetSessionAtEndOf } from '../wire/deferred-scope';
import { adoptTransaction, scopeSqlOf } from '../wire/scoped-connection';

// Reads the role in force, then switches: the subquery (kept apart by `offset 0`) yields its row before
// the outer select list, with the switch, is evaluated. The role name takes a placeholder, which
// MikroORM's `execute` fills with an escaped literal (it sends no bound parameters); never concatenated here.
const SWITCH_ROLE = "select before.previous, pg_catalog.set_config('role', ?, true) as role from (select pg_catalog.current_setting('role') as previous offset 0) as before";
const RESTORE_ROLE = "select pg_catalog.set_config('role', ?, true)";

type Send = (this: unknown, connection: unknown, query: unknown, ...rest: unknown[]) => Promise<unknown>;
interface TransactionClient {
  query: Send;
  stream: Send;
  // knex creates every savepoint of a transaction through its client's `transaction` (see internals.ts).
  transaction: (...args: unknown[]) => unknown;
}

/**
 * Runs `callback` with `admin` (a bypass fork) inside `caller`'s own transaction: in a savepoint that
 * switches to the bypass role (`set_config('role', ..., true)`), so it sees the caller's uncommitted
 * writes and takes no lock the caller holds. The switch is undone before the callback's work joins the
 * caller's transaction:
 * - on success: the previous role is set back, then the savepoint is released (its writes are kept and
 *   commit or roll back with the caller's transaction);
 * - on any error, a failed statement included (which leaves the savepoint aborted): the savepoint is
 *   rolled back, which undoes the switch and the callback's writes, and the error is rethrown.
 * While the callback runs, the caller's transaction (and every transaction it is a savepoint of)
 * refuses every statement sent outside the savepoint (they would run as the bypass role). If the switch
 * cannot be undone (the savepoint cannot be rolled back, or the callback ended it itself), the whole
 * transaction is rolled back and refuses every later statement.
 */
export async function bypassInTransaction<EM extends EntityManager, T>(caller: EM, admin: EM, role: string, callback: (em: EM) => T | Promise<T>): Promise<T> {
  const outer = caller.getTransactionContext() as Knex.Transaction;
  const callerConnection = caller.getConnection();
  const adminConnection = admin.getConnection();
  // Through the caller's own connection: refuses a transaction of another scope and sends a still
  // pending transaction start (with the caller's scope) before the savepoint.
  // What the callback's raw SQL changes at session level (SET ROLE, set_config(..., false), temporary
  // tables) is committed with the caller's transaction: its end must reset the session, also when the
  // caller's transaction is unscoped (a scoped one's end does already).
  // The caller may itself be in a savepoint (a nested transactional()): the session is reset at the end
  // of the top-level transaction, and every transaction of the chain is guarded (each has a knex client
  // of its own, and the role switch holds for all of them until it is undone).
  const chain = transactionChain(outer);
  await resetSessionAtEndOf(chain[chain.length - 1]!, scopeSqlOf(adminConnection)!.reset);
  const savepoint = await callerConnection.begin({ ctx: outer });
  adoptTransaction(adminConnection, savepoint);
  const guard = guardTransactions(chain);
  try {
    const [{ previous }] = await adminConnection.execute<{ previous: string }[]>(SWITCH_ROLE, [role], 'all', savepoint);
    admin.setTransactionContext(savepoint);
    const result = await TransactionContext.create(admin, async () => {
      const value = await callback(admin);
      await admin.flush();
      return value;
    });
    if (savepoint.isCompleted()) {
      // The callback ended the savepoint itself (admin.commit(), a commit on its connection): a RELEASE
      // keeps the role switch for the rest of the caller's transaction, and the switch can no longer be
      // undone in it (found by the tenth review). The transaction is rolled back below.
      throw new RlsConfigurationError(
        "A bypassRls(cb, { propagation: 'nested' }) callback ended the step's savepoint itself (em.commit() or em.rollback() on the " +
          "manager it was given), so the role switch could not be undone: the caller's transaction was rolled back. Return from the " +
          'callback (or throw) instead; the step commits or rolls back its savepoint itself.',
      );
    }
    await adminConnection.execute(RESTORE_ROLE, [previous], 'run', savepoint);
    await callerConnection.commit(savepoint);
    guard.release();
    return result;
  } catch (error) {
    await rollBackToSavepoint(callerConnection, savepoint, guard);
    throw error;
  } finally {
    // The savepoint is over: later work on the fork runs in transactions of its own.
    admin.resetTransactionContext();
  }
}

async function rollBackToSavepoint(connection: ReturnType<EntityManager['getConnection']>, savepoint: Knex.Transaction, guard: Guard): Promise<void> {
  // A savepoint that is already over was ended by someone else (the callback's own commit or rollback,
  // or a failed release): knex sends no ROLLBACK TO for it and its execution promise is long settled, so
  // nothing tells whether the switch was undone. Roll the whole transaction back.
  if (savepoint.isCompleted()) {
    await guard.poison();
    return;
  }
  try {
    // knex reports the outcome of ROLLBACK TO SAVEPOINT on the savepoint's execution promise, not on the
    // call; it resolves once the savepoint was rolled back.
    await connection.rollback(savepoint);
    await savepoint.executionPromise;
    guard.release();
  } catch {
    // Not rolled back (the connection failed, the savepoint was already ended, or another nested step of
    // the chain refused it): the connection may still run as the bypass role. Safe because the whole
    // transaction is rolled back now, so nothing more runs in it, a new savepoint included. The
    // callback's error is what the caller sees.
    await guard.poison();
  }
}

interface Guard {
  release(): void;
  poison(): void | Promise<void>;
}

/** `trx` and the transactions it is a savepoint of, innermost first, the top-level one last. */
function transactionChain(trx: Knex.Transaction): Knex.Transaction[] {
  const chain = [trx];
  // knex links a savepoint's transactor to its parent's (see internals.ts).
  for (let parent = parentOf(trx); parent; parent = parentOf(parent)) chain.push(parent);
  return chain;
}

const parentOf = (trx: Knex.Transaction) => (trx as unknown as { parentTransaction?: Knex.Transaction }).parentTransaction;

function guardTransactions(chain: readonly Knex.Transaction[]): Guard {
  const guards = chain.map(guardOuterTransaction);
  return {
    release: () => guards.forEach((guard) => guard.release()),
    // A step that could not be undone ends the top-level transaction (ROLLBACK always passes the guards):
    // guarding its existing clients is not enough, since a new savepoint gets a knex client of its own
    // (found by the ninth review). knex then refuses every later statement of the transaction.
    poison: async () => {
      guards.forEach((guard) => guard.poison());
      const top = chain[chain.length - 1]!;
      if (!top.isCompleted()) {
        await top.rollback().catch(() => {
          // The connection is gone or the ROLLBACK failed: knex has marked the transaction completed
          // either way, and the pool guard destroys a connection that is not idle.
        });
      }
    },
  };
}

/**
 * Refuses every statement sent in `trx` itself (not in its savepoints, which have knex clients of their
 * own), and every new savepoint of it, until released. ROLLBACK always goes through: it ends the
 * transaction and the role switch. New savepoints are refused because each gets a knex client of its
 * own, which the guard would not cover: one opened while the step runs (knex queues it behind the step's
 * savepoint) would start on the switched connection (found by the eleventh review).
 */
function guardOuterTransaction(trx: Knex.Transaction): Guard {
  const client = trx.client as unknown as TransactionClient;
  const { query, stream } = client;
  const ownTransaction = Object.prototype.hasOwnProperty.call(client, 'transaction') ? client.transaction : undefined;
  let reason =
    "This transaction is running a bypassRls(cb, { propagation: 'nested' }) step: its statements would run as the bypass role. " +
    'Await the bypass callback before using the transaction again; inside the callback, use the EntityManager it is given.';
  const refuse = () => Promise.reject(new RlsConfigurationError(reason));
  const guardedQuery: Send = function (this: unknown, connection, statement, ...rest) {
    return statement === 'ROLLBACK' ? query.call(this, connection, statement, ...rest) : refuse();
  };
  client.query = guardedQuery;
  client.stream = refuse;
  client.transaction = refuse;
  return {
    release() {
      // Only if nothing replaced the guard meanwhile (it would be the transaction's own hook).
      if (client.query === guardedQuery) client.query = query;
      if (client.stream === refuse) client.stream = stream;
      if (client.transaction === refuse) {
        if (ownTransaction) client.transaction = ownTransaction;
        else delete (client as Partial<TransactionClient>).transaction; // back to knex's own, on the prototype
      }
    },
    poison() {
      reason =
        'A bypassRls nested step in this transaction could not be undone (its savepoint could not be rolled back), so the transaction ' +
        'was rolled back: it could still have run as the bypass role. Run the work again in a new transaction.';
    },
  };
}

import { TransactionContext, type EntityManager } from '@mikro-orm/core';
import type { ControlledTransaction } from 'kysely';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { RlsPgClient, STEP_REFUSED } from '../wire/rls-pg-client';
import { adoptTransaction, scopeSqlOf, transactionChain } from '../wire/scoped-connection';
import { scopeStorage } from '../wire/scope-storage';

type Transaction = ControlledTransaction<any, any>;

// Reads the role in force, then switches: the subquery (kept apart by `offset 0`) yields its row before
// the outer select list, with the switch, is evaluated. The role name takes a placeholder, which
// MikroORM's `execute` fills with an escaped literal; never concatenated here.
const SWITCH_ROLE = "select before.previous, pg_catalog.set_config('role', ?, true) as role from (select pg_catalog.current_setting('role') as previous offset 0) as before";
const RESTORE_ROLE = "select pg_catalog.set_config('role', ?, true)";

/**
 * Runs `callback` with `admin` (a bypass fork) inside `caller`'s own transaction: in a savepoint that
 * switches to the bypass role (`set_config('role', ..., true)`), so it sees the caller's uncommitted
 * writes and takes no lock the caller holds. The switch is undone before the callback's work joins the
 * caller's transaction: on success the previous role is set back and the savepoint released; on any
 * error the savepoint is rolled back (undoing the switch and the callback's writes) and the error rethrown.
 *
 * In MikroORM 7 every savepoint of a transaction runs on the transaction's one pg client, so the guard
 * lives there (see rls-pg-client.ts): while the step runs, the client accepts only the step's own
 * statements (those sent in the step's async context), from any transaction or savepoint of the chain,
 * raw Kysely included, and refuses the rest. If the switch cannot be undone (the savepoint cannot be
 * rolled back, or the callback ended it itself), the client refuses everything but ROLLBACK until the
 * transaction ends, so the caller's transaction can only be rolled back; the session reset travels with
 * that end, also when the caller's transaction is unscoped.
 */
export async function bypassInTransaction<EM extends EntityManager, T>(caller: EM, admin: EM, role: string, callback: (em: EM) => T | Promise<T>): Promise<T> {
  const outer = caller.getTransactionContext() as Transaction;
  const callerConnection = caller.getConnection() as unknown as { begin(o: object): Promise<Transaction>; commit(t: Transaction): Promise<void>; rollback(t: Transaction): Promise<void> };
  const adminConnection = admin.getConnection();
  const token = {};
  const inStep = <R>(work: () => R): R => scopeStorage.run({ step: token }, work);
  // Through the caller's own connection: refuses a transaction of another scope; the savepoint rides on
  // a still pending transaction start (same pg client). Sending it arms the step on that client.
  const savepoint = await scopeStorage.run({ armStep: { token, reset: scopeSqlOf(adminConnection as never)!.reset } }, () => callerConnection.begin({ ctx: outer }));
  adoptTransaction(adminConnection as never, savepoint);
  // The caller's transaction and those it was opened in (a tenant's outer manager used in the callback).
  const unguards = transactionChain(outer).map(refuseStatementsOn);
  const unguard = () => unguards.forEach((undo) => undo());
  try {
    const [{ previous }] = await inStep(() => adminConnection.execute<{ previous: string }[]>(SWITCH_ROLE, [role], 'all', savepoint));
    admin.setTransactionContext(savepoint);
    const result = await inStep(() =>
      TransactionContext.create(admin, async () => {
        const value = await callback(admin);
        await admin.flush();
        return value;
      }),
    );
    if (savepoint.isCommitted || savepoint.isRolledBack) {
      throw new RlsConfigurationError(
        "A bypassRls(cb, { propagation: 'nested' }) callback ended the step's savepoint itself (em.commit() or em.rollback() on the " +
          "manager it was given), so the role switch could not be undone: the caller's transaction is refused but for its rollback. " +
          'Return from the callback (or throw) instead; the step commits or rolls back its savepoint itself.',
      );
    }
    await inStep(() => adminConnection.execute(RESTORE_ROLE, [previous], 'run', savepoint));
    await inStep(() => callerConnection.commit(savepoint));
    RlsPgClient.endStep(token, false);
    return result;
  } catch (error) {
    try {
      if (savepoint.isCommitted || savepoint.isRolledBack) throw error;
      await inStep(() => callerConnection.rollback(savepoint));
      RlsPgClient.endStep(token, false);
    } catch {
      // Not rolled back (the connection failed, or the savepoint was already ended): the connection may
      // still run as the bypass role. Safe because the client now refuses all but the transaction's
      // ROLLBACK. The callback's error is what the caller sees.
      RlsPgClient.endStep(token, true);
    }
    throw error;
  } finally {
    // The savepoint is over: later work on the fork runs in transactions of its own.
    admin.resetTransactionContext();
    unguard();
  }
}

/**
 * While the step runs, refuses what MikroORM sends on the caller's transaction itself (`ctx` of the
 * caller's manager: its finds, executes, flushes and savepoints), which the pg client's guard lets
 * through when it is sent from inside the callback (the callback's async context is the step's): on
 * the shared pg client it would run as the bypass role (found on v7 by tests/db/bypass-in-transaction).
 * MikroORM runs a transaction's statements through `ctx.executeQuery` and opens its savepoints with
 * `ctx.savepoint` (see internals.ts); the step's own savepoint is another ControlledTransaction object,
 * so the admin manager is not affected. Returns the undo.
 */
function refuseStatementsOn(outer: object): () => void {
  const refuse = () => {
    throw new RlsConfigurationError(STEP_REFUSED);
  };
  Object.defineProperties(outer, {
    executeQuery: { configurable: true, value: async () => refuse() },
    savepoint: { configurable: true, value: refuse },
  });
  return () => {
    delete (outer as { executeQuery?: unknown }).executeQuery;
    delete (outer as { savepoint?: unknown }).savepoint;
  };
}

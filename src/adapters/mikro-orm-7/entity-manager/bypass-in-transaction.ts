import { TransactionContext, type EntityManager } from '@mikro-orm/core';
import type { ControlledTransaction } from 'kysely';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { RlsPgClient } from '../wire/rls-pg-client';
import { adoptTransaction, scopeSqlOf } from '../wire/scoped-connection';
import { sendWith } from '../wire/scope-storage';
import { openStep, runInside, STEP_ENDED_BY_CALLBACK, stepsInside } from '../wire/step-transactions';

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
 * lives there (see rls-pg-client.ts): while the step runs, the client accepts only the statements the
 * admin manager's own connection view sends on the step's savepoint (or savepoints it opens in it),
 * each tagged as the step's around Kysely's call that sends it (step-transactions.ts), and the
 * transaction's ROLLBACK. Everything else on that connection is refused, wherever it was started: the
 * caller's managers, raw Kysely on any transaction of the chain (the step's savepoint included), a plain
 * manager, a hook. If the switch cannot be undone (the savepoint cannot be rolled back, or the callback
 * ended it itself), the client refuses everything but ROLLBACK until the transaction ends, so the
 * caller's transaction can only be rolled back; the session reset travels with that end, also when the
 * caller's transaction is unscoped.
 */
export async function bypassInTransaction<EM extends EntityManager, T>(caller: EM, admin: EM, role: string, callback: (em: EM) => T | Promise<T>): Promise<T> {
  const outer = caller.getTransactionContext() as Transaction;
  const callerConnection = caller.getConnection() as unknown as { begin(o: object): Promise<Transaction> };
  const adminConnection = admin.getConnection() as unknown as {
    execute<R>(sql: string, params: unknown[], method: string, ctx: Transaction): Promise<R>;
    commit(t: Transaction): Promise<void>;
    rollback(t: Transaction): Promise<void>;
  };
  const token = {};
  // Through the caller's own connection: refuses a transaction of another scope; the savepoint rides on
  // a still pending transaction start (same pg client). Sending it arms the step on that client.
  // A step started from inside another step's callback must not wait for that step to end (see rls-pg-client.ts).
  const armStep = { token, reset: scopeSqlOf(adminConnection as never)!.reset, within: stepsInside() };
  const savepoint = await sendWith({ armStep }, () => callerConnection.begin({ ctx: outer }));
  adoptTransaction(adminConnection as never, savepoint);
  // From here the admin view's statements on the savepoint are the step's (its commit and rollback too).
  const step = openStep(savepoint, token);
  // The step's own end of its savepoint, which its admin view lets through (the callback's is refused).
  const end = async (how: 'commit' | 'rollback') => {
    step.closing = true;
    try {
      await adminConnection[how](savepoint);
    } finally {
      step.closing = false;
    }
  };
  try {
    const [{ previous }] = await adminConnection.execute<{ previous: string }[]>(SWITCH_ROLE, [role], 'all', savepoint);
    admin.setTransactionContext(savepoint);
    const result = await runInside(token, () =>
      TransactionContext.create(admin, async () => {
        const value = await callback(admin);
        await admin.flush();
        return value;
      }),
    );
    // The callback tried to end the savepoint (refused, but it may have caught that), or ended it by
    // raw SQL: the switch cannot be trusted to be undone.
    if (step.endedByCallback || savepoint.isCommitted || savepoint.isRolledBack) throw new RlsConfigurationError(STEP_ENDED_BY_CALLBACK);
    await adminConnection.execute(RESTORE_ROLE, [previous], 'run', savepoint);
    await end('commit');
    await RlsPgClient.endStep(token, false);
    return result;
  } catch (error) {
    try {
      if (step.endedByCallback || savepoint.isCommitted || savepoint.isRolledBack) throw error;
      await end('rollback');
      await RlsPgClient.endStep(token, false);
    } catch {
      // Not rolled back (the connection failed, or the callback ended the savepoint): the connection may
      // still run as the bypass role. Safe because the client now rolls the whole transaction back and
      // refuses all but its ROLLBACK. The callback's error is what the caller sees.
      await RlsPgClient.endStep(token, true);
    }
    throw error;
  } finally {
    // The savepoint is over: the step's transactions are refused from now on (a kept fork of the
    // admin manager), and later work on the fork runs in transactions of its own.
    step.over = true;
    admin.resetTransactionContext();
  }
}

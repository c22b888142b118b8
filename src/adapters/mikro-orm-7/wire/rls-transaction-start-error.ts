import { DriverException } from '@mikro-orm/core';
import { brandRlsError } from '../../../core/errors/rls-error';

/**
 * A statement of a scoped or bypass transaction that was not sent: it was issued while the
 * transaction's first statement, which carries the transaction's `BEGIN` and scope, was still in flight,
 * and that statement failed. Sending it anyway could have run it outside the transaction, without its
 * scope (a syntax error refuses the whole first message, `BEGIN` included), so nothing of it ran.
 * A MikroORM `DriverException`, like the errors of any statement, and an `RlsError` (`rlsCode`
 * `RLS_TRANSACTION_START`); `cause` is the first statement's error. Only code that sends statements of
 * one transaction concurrently meets it.
 *
 * @example
 * await orm.em.forkWithRls({ account_id: 42 }).transactional(async (tx) => {
 *   // Two statements at once, the first of which fails: the second is refused, not sent.
 *   const results = await Promise.allSettled([tx.execute('selec 1'), tx.execute('select 1')]);
 *   const refused = results.find((r) => r.status === 'rejected' && r.reason instanceof RlsTransactionStartError);
 *   if (refused) throw (refused as PromiseRejectedResult).reason; // its cause: the syntax error of the first
 * });
 */
export class RlsTransactionStartError extends DriverException {
  /** The stable code of this package's errors (`code` is the SQLSTATE, as on every MikroORM exception). */
  declare readonly rlsCode: 'RLS_TRANSACTION_START';
  constructor(override readonly cause: unknown) {
    super(
      new Error(
        "Not sent: this statement was issued while the transaction's first statement (which carries its BEGIN and scope) was " +
          `still running, and that statement failed: ${cause instanceof Error ? cause.message : String(cause)}. ` +
          'Nothing of this statement ran. Await the first statement of a transaction before sending others, and retry the transaction.',
      ),
    );
    this.name = 'RlsTransactionStartError';
    brandRlsError(this, 'RLS_TRANSACTION_START');
  }
}

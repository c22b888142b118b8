import { DriverException } from '@mikro-orm/core';
import { brandRlsError } from '../../../core/errors/rls-error';

/**
 * SQL sent outside a transaction by a scoped fork left a transaction open (it contains `BEGIN` or
 * `START TRANSACTION`), which would have carried the fork's context past the statement. It was rolled
 * back and nothing of it was kept. A MikroORM `DriverException`, like the errors of any statement, and an
 * `RlsError` (`rlsCode` `RLS_SCOPE_ESCAPE`).
 *
 * @example
 * const scoped = orm.em.forkWithRls({ account_id: 42 });
 * await scoped.execute('begin; select 1').catch((error) => {
 *   if (error instanceof RlsScopeEscapeError) console.error(error.sql); // begin; select 1
 *   throw error;
 * });
 */
export class RlsScopeEscapeError extends DriverException {
  /** The stable code of this package's errors (`code` is the SQLSTATE, as on every MikroORM exception). */
  declare readonly rlsCode: 'RLS_SCOPE_ESCAPE';
  constructor(
    /** The SQL that left the transaction open. */
    readonly sql: string,
  ) {
    super(
      new Error(
        'A scoped fork ran SQL outside a transaction that left a transaction open (BEGIN or START TRANSACTION in ' +
          `the SQL: ${sql.slice(0, 200)}). It was rolled back. Open transactions with em.transactional() or em.begin() instead.`,
      ),
    );
    this.name = 'RlsScopeEscapeError';
    brandRlsError(this, 'RLS_SCOPE_ESCAPE');
  }
}

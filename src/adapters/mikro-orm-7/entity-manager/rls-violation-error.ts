import { DriverException, RowLevelSecurityViolationException, type Platform } from '@mikro-orm/core';
import { commandOf, VIOLATION } from '../../../core/errors/violation-message';
import { brandRlsError, RlsError } from '../../../core/errors/rls-error';
import { FAILED_STATEMENT } from '../wire/rls-pg-client';

/**
 * PostgreSQL refused a write because of a row-level security policy (SQLSTATE 42501): the row is not the
 * caller's to write, or the scope is missing. Distinct from other database errors, so it can be mapped
 * to 403/404 rather than 500. MikroORM 7's own `RowLevelSecurityViolationException` (so native
 * `instanceof` checks keep working), with `table` and `command` added, and an `RlsError` (`rlsCode`
 * `RLS_VIOLATION`); `code` is PostgreSQL's SQLSTATE, `42501`. Reads never throw it: a row the policies
 * hide is simply not returned.
 *
 * @example
 * const scoped = orm.em.forkWithRls({ account_id: 42 });
 * try {
 *   await scoped.insert(Item, { id: 1, ownerId: 7 }); // another account's row: the policy's WITH CHECK refuses it
 * } catch (error) {
 *   if (error instanceof RlsViolationError) console.warn(`${error.command} on ${error.table} refused`); // insert on item refused
 *   throw error;
 * }
 */
export class RlsViolationError extends RowLevelSecurityViolationException {
  /** The stable code of this package's errors (`code` is the SQLSTATE, as on every MikroORM exception). */
  declare readonly rlsCode: 'RLS_VIOLATION' | 'RLS_INVISIBLE_ROW';
  /** The table, as PostgreSQL names it in the message. */
  readonly table: string;
  /** The statement's command (`insert`, `update`, `delete`, ...), read from the statement. */
  readonly command: string;

  constructor(previous: Error, table: string, command: string) {
    super(previous);
    this.name = new.target.name;
    brandRlsError(this, new.target === RlsViolationError ? 'RLS_VIOLATION' : 'RLS_INVISIBLE_ROW');
    this.table = table;
    this.command = command;
  }
}

const CONVERTER_WRAPPED = Symbol('mikro-orm-rls violation converter');

/**
 * Makes the platform turn row-level security refusals into {@link RlsViolationError}; every other error
 * goes through MikroORM's own conversion unchanged. Idempotent.
 */
export function convertRlsViolations(platform: Platform): void {
  const converter = platform.getExceptionConverter() as ReturnType<Platform['getExceptionConverter']> & { [CONVERTER_WRAPPED]?: true };
  if (converter[CONVERTER_WRAPPED]) return;
  const convert = converter.convertException.bind(converter);
  converter.convertException = (exception) => {
    // Already a MikroORM exception of this package's (see RlsScopeEscapeError): keep it as it is.
    if (exception instanceof DriverException) return exception;
    // A refusal of this package's before any SQL was sent (a foreign transaction, the role check): not a driver error.
    if (exception instanceof RlsError) return exception as never;
    const error = exception as Error & { code?: string; [FAILED_STATEMENT]?: string };
    const match = error.code === '42501' ? VIOLATION.exec(error.message) : null;
    if (!match) return convert(exception);
    // pg's message does not carry the statement: the pg client recorded which of the caller's failed.
    return new RlsViolationError(error, match[1]!, commandOf(error[FAILED_STATEMENT] ?? ''));
  };
  converter[CONVERTER_WRAPPED] = true;
}

/**
 * A write of this fork reached no row although the row it names exists or was expected to: it is not
 * visible to the fork's scope (another tenant's row, or one the policies hide). PostgreSQL raises no
 * error for this, so this package reports it: a flush with `refuseInvisibleWrites: true`, rolled back,
 * and an ignored upsert that conflicts with a hidden row. An {@link RlsViolationError} (`rlsCode`
 * `RLS_INVISIBLE_ROW`), so code that answers those with 403/404 handles it too.
 *
 * @example
 * // withRls(config, { refuseInvisibleWrites: true })
 * const scoped = orm.em.forkWithRls({ account_id: 42 });
 * const other = scoped.getReference(Item, 1); // a row of account 7, which account 42 cannot see
 * scoped.remove(other);
 * await scoped.flush().catch((error) => {
 *   if (error instanceof RlsInvisibleRowError) console.warn(error.entity, error.command); // Item delete
 *   throw error;
 * });
 */
export class RlsInvisibleRowError extends RlsViolationError {
  /** The entity the write was for. */
  readonly entity: string;

  constructor(message: string, entity: string, table: string, command: string) {
    super(Object.assign(new Error(message), { code: '42501' }), table, command);
    this.entity = entity;
  }
}

/** Builds an {@link RlsInvisibleRowError}, for the write checks of src/core/writes. */
export const invisibleRowError = (message: string, entity: string, table: string, command: string): RlsInvisibleRowError =>
  new RlsInvisibleRowError(message, entity, table, command);

import { resolvePgType, type PgType } from './pg-type';
import { RlsDeclarationError } from '../errors/rls-declaration-error';

/** Variable names become part of `<prefix>.<name>` settings, so they must be plain identifiers. */
export const VARIABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * What {@link ConditionArg} takes: the context field's name and its type.
 *
 * @example
 * const options: ConditionArgOptions = { comparatorName: 'tenant_id', type: 'uuid' };
 * const tenantId = ConditionArg(options);
 * // MikroORM type names and classes work too: 'number' and types.integer both mean integer.
 * const accountId = ConditionArg({ comparatorName: 'account_id', type: types.integer });
 */
export interface ConditionArgOptions {
  /** The context field and session variable the policy reads, e.g. `account_id`. */
  readonly comparatorName: string;
  /** Its PostgreSQL type (or MikroORM type name); the variable is cast to it in the policy. */
  readonly type: string | (abstract new (...args: never[]) => unknown);
}

/** A variable a policy reads from the request's context. Created with {@link ConditionArg}. */
export interface ConditionArg {
  readonly comparatorName: string;
  readonly type: PgType;
}

/**
 * Declares a context variable a policy compares against: the context field `comparatorName`, which a
 * scoped transaction sets as `<prefix>.<comparatorName>` (transaction-local) and the policy reads back
 * cast to `type`. The policy reads it once per statement, and a variable that is not set as NULL, which
 * matches no row.
 *
 * @example
 * const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
 * // Its reference in a policy (customExpr's parameter, or the default expression) renders, with the default prefix, as:
 * // (select nullif(current_setting('rls.account_id', true), '')::integer)
 *
 * @throws {RlsDeclarationError} when `comparatorName` is not a lower-case identifier of at most 63
 * characters, or `type` is not a type name this package can write into a policy.
 */
export function ConditionArg(options: ConditionArgOptions): ConditionArg {
  const name = options?.comparatorName;
  if (typeof name !== 'string' || !VARIABLE_NAME.test(name)) {
    throw new RlsDeclarationError(
      `ConditionArg: comparatorName ${JSON.stringify(name)} must be a lower-case identifier ` +
        '(letters, digits and underscores, not starting with a digit, at most 63 characters), e.g. "account_id".',
    );
  }
  return Object.freeze({ comparatorName: name, type: resolvePgType(options.type, `ConditionArg ${name}`) });
}

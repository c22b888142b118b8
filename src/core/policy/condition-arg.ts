import { resolvePgType, type PgType } from './pg-type';
import { RlsDeclarationError } from '../errors/rls-declaration-error';

/** Variable names become part of `<prefix>.<name>` settings, so they must be plain identifiers. */
export const VARIABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

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
 * Declares a context variable a policy compares against.
 *
 * @example
 * const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
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

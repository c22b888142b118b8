import { RlsError } from './rls-error';

/**
 * A policy, condition arg, `sql` fragment or entity declaration that cannot mean what it says (an unused
 * condition arg, an unknown column, two policies with one name, a table name PostgreSQL would truncate).
 * Thrown where it is declared or when `MikroORM.init(withRls(...))` compiles the declarations, with no
 * SQL sent; or by `createPolicies` (and migrations) when PostgreSQL rejects a rendered policy.
 *
 * @example
 * try {
 *   ConditionArg({ comparatorName: 'Account-Id', type: 'integer' });
 * } catch (error) {
 *   if (error instanceof RlsDeclarationError) console.error(error.message); // ConditionArg: comparatorName "Account-Id" must be a lower-case identifier ...
 *   throw error;
 * }
 */
export class RlsDeclarationError extends RlsError {
  /** Always `'RLS_DECLARATION'`. */
  readonly rlsCode = 'RLS_DECLARATION';
}

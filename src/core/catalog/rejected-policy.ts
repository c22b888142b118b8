import { tableLabel, type TableRef } from '../ddl/quote';
import { RlsConfigurationError } from '../errors/rls-configuration-error';
import { RlsDeclarationError } from '../errors/rls-declaration-error';

/** PostgreSQL's SQLSTATE for "must be owner of table" (insufficient_privilege). */
const INSUFFICIENT_PRIVILEGE = '42501';

/** Whether PostgreSQL refused a statement because the role does not own the table. */
export const notTheOwner = (error: unknown): boolean => (error as { code?: string } | null)?.code === INSUFFICIENT_PRIVILEGE;

/** The error for a role that may not manage the table's policies, with PostgreSQL's `message`; `after` ends it. */
export function notTheOwnerError(table: TableRef, error: unknown, message: string, after = ''): RlsConfigurationError {
  return new RlsConfigurationError(
    `Cannot manage policies on ${tableLabel(table)}: ${message}. Policies can only be created by the table's ` +
      `owner or a superuser: run createPolicies (or migrations) with the owner role, not the application role.${after}`,
    { cause: error },
  );
}

/**
 * The error for a CREATE or ALTER POLICY that PostgreSQL refused, from its own `message`: the role may
 * not manage the table's policies (it is not the owner), or the declaration (expression, roles) is wrong.
 * `after` ends the message (what became of the rest of the work).
 */
export function rejectedPolicyError(table: TableRef, policy: string, error: unknown, message: string, after = ''): RlsConfigurationError | RlsDeclarationError {
  if (notTheOwner(error)) return notTheOwnerError(table, error, message, after);
  return new RlsDeclarationError(
    `PostgreSQL rejected policy "${policy}" on ${tableLabel(table)}: ${message}. Check its expression (customExpr / withCheck) and its roles (to).${after}`,
    { cause: error },
  );
}

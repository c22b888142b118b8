import { tableLabel, type TableRef } from '../ddl/quote';
import { RlsConfigurationError } from '../errors/rls-configuration-error';
import { RlsDeclarationError } from '../errors/rls-declaration-error';

/** A statement of this package's, with what it is about, so that an error can name it. */
export interface StatementOnTable {
  readonly sql: string;
  readonly table: TableRef;
  /** The declared policy it creates or alters (PostgreSQL checks the declaration there), if any. */
  readonly policy?: string;
}

/** The SQLSTATE of a driver's error (node-postgres keeps it as `code`), if it has one. */
export const sqlStateOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

// SQLSTATEs: 42501 must be owner (insufficient_privilege); 42710 duplicate_object (a policy of that
// name appeared meanwhile). The rest of classes 42 (syntax error or access rule violation), 22 (data
// exception) and 0A (feature not supported) are what PostgreSQL says of a wrong expression or role.
const NOT_THE_OWNER = '42501';
const declarationRefused = (code: string | undefined) =>
  code !== undefined && code !== NOT_THE_OWNER && code !== '42710' && (code.startsWith('42') || code.startsWith('22') || code === '0A000');

/** SQLSTATE and hint of a PostgreSQL error (node-postgres keeps them on the error), as ` (SQLSTATE ...; hint: ...)`. */
export function postgresDetail(error: unknown): string {
  const code = sqlStateOf(error);
  const hint = (error as { hint?: unknown } | null)?.hint;
  const parts = [code ? `SQLSTATE ${code}` : '', typeof hint === 'string' && hint ? `hint: ${hint}` : ''].filter(Boolean);
  return parts.length > 0 ? ` (${parts.join('; ')})` : '';
}

/**
 * The error for a statement PostgreSQL refused, from its own `message`: the role may not manage the
 * table's policies (it is not the owner); the declaration of the policy the statement creates or alters
 * is wrong (its expression or roles); or something else went wrong (a lock timeout, the server out of
 * lock space, the connection lost), named with PostgreSQL's words, SQLSTATE and hint. `after` ends the
 * message (what became of the rest of the work).
 */
export function refusedStatementError(statement: StatementOnTable, error: unknown, message: string, after = ''): RlsConfigurationError | RlsDeclarationError {
  const table = tableLabel(statement.table);
  const code = sqlStateOf(error);
  if (code === NOT_THE_OWNER) {
    return new RlsConfigurationError(
      `Cannot manage policies on ${table}: ${message}. Policies can only be created by the table's ` +
        `owner or a superuser: run createPolicies (or migrations) with the owner role, not the application role.${after}`,
      { cause: error },
    );
  }
  if (statement.policy !== undefined && declarationRefused(code)) {
    return new RlsDeclarationError(
      `PostgreSQL rejected policy "${statement.policy}" on ${table}: ${message}. Check its expression (customExpr / withCheck) and its roles (to).${after}`,
      { cause: error },
    );
  }
  return new RlsConfigurationError(`Running \`${statement.sql}\` on ${table} failed: ${message}${postgresDetail(error)}.${after}`, { cause: error });
}

/** The error for statements that failed together when the failure could not be traced to one of them. */
export function refusedStatementsError(what: string, error: unknown, message: string, after = ''): RlsConfigurationError {
  return new RlsConfigurationError(
    `${what} failed: ${message}${postgresDetail(error)}. It could not be traced to one statement (run one by one, none failed, or the connection was lost).${after}`,
    { cause: error },
  );
}

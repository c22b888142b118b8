import { RlsDeclarationError } from '../errors/rls-declaration-error';
/** Quotes an identifier for PostgreSQL, always, so reserved words and mixed case are safe. */
export function quoteIdent(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.includes('\0')) {
    throw new RlsDeclarationError(`Not a valid SQL identifier: ${JSON.stringify(name)}.`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Quotes a string literal. Backslashes switch to the E'' form so the result means the same whatever
 * `standard_conforming_strings` is set to.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new RlsDeclarationError('PostgreSQL text cannot contain a NUL character.');
  const body = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

/**
 * A table with its schema, both always present once resolved.
 *
 * @example
 * const items: TableRef = { schema: 'public', name: 'item' };
 */
export interface TableRef {
  readonly schema: string;
  readonly name: string;
}

export function qualifiedTable(table: TableRef): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

/** Human-readable `schema.table` for messages (not for SQL). */
export function tableLabel(table: TableRef): string {
  return `${table.schema}.${table.name}`;
}

// Role keywords that `TO` accepts unquoted; quoting them would name a (non-existent) role instead.
const ROLE_KEYWORDS = new Set(['public', 'current_user', 'current_role', 'session_user']);

export function quoteRole(role: string): string {
  return ROLE_KEYWORDS.has(role.toLowerCase()) ? role.toLowerCase() : quoteIdent(role);
}

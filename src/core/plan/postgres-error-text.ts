/**
 * PostgreSQL's own words for a failed statement: its message, SQLSTATE and hint (node-postgres keeps them
 * on the error, MikroORM's exceptions and Kysely pass that error on), without the statement some drivers
 * put in front of the message.
 *
 * @example
 * postgresErrorText(error, statement); // 'out of shared memory [53200] (hint: You might need to increase max_locks_per_transaction.)'
 */
export function postgresErrorText(error: unknown, statement: string): string {
  const { message, code, hint } = error as { message?: string; code?: unknown; hint?: unknown };
  const text = String(message ?? error).replace(`${statement} - `, '');
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? ` [${code}]` : '';
  return `${text}${sqlState}${typeof hint === 'string' && hint ? ` (hint: ${hint})` : ''}`;
}

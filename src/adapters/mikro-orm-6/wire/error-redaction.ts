import type { ScopeSql } from '../../../core/scope/rls-scope';

// How knex reports a failed statement, and what that means for the statements this package sends in
// front of the caller's: knex's message format is the adapter's business.

/**
 * knex starts a failed statement's error message with the SQL it sent. Where the scope statement
 * travelled in front of the caller's SQL, its values are replaced by `?` in the message, so the
 * context's values stay out of logs and error trackers, while the message still shows what ran.
 */
export function redactScope(error: unknown, sent: ScopeSql): void {
  if (error instanceof Error) {
    // knex rewrites `\?` to `?` when it writes the SQL into the message.
    // The reset sent behind the caller's SQL is ours too: the message shows the caller's SQL alone.
    error.message = error.message.replace(`\n;\n${sent.reset.sql}`, '');
    for (const form of [sent.literal, sent.literal.replace(/\\\?/g, '?')]) {
      if (error.message.startsWith(form)) {
        error.message = sent.redacted + error.message.slice(form.length);
        break;
      }
    }
  }
}

/** `redactScope`, then throws the error. */
export function redactScopeStatement(error: unknown, sent: ScopeSql): never {
  redactScope(error, sent);
  throw error;
}

// The statements this package sends in front of a caller's, as they start an error message.
const SCOPE_PREFIX = /^\s*(?:BEGIN(?: TRANSACTION [^;]*)?;\s*)?select (?:pg_catalog\.)?set_config\([^;]*;\s*/i;

/** An error message without the scope statements in front, starting with the caller's statement. */
export function withoutScopePrefix(message: string): string {
  return message.replace(SCOPE_PREFIX, '');
}

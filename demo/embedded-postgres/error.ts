/**
 * A start-up failure whose message already says what went wrong and what to do: callers print the
 * message alone (one line), without a stack trace that would bury it.
 */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

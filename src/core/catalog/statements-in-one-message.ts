import type { Queryable } from './queryable';

const SAVEPOINT = 'mikro_orm_rls_batch';

/**
 * Makes the error to throw when PostgreSQL rejected `statement` (`undefined` when it cannot be singled
 * out), from the driver's `error` and PostgreSQL's own `message` (without the SQL some drivers prefix).
 */
export type RejectedStatement<S> = (statement: S | undefined, error: unknown, message: string) => Error;

/**
 * Runs `statements` in one message, inside the caller's transaction: PostgreSQL runs them in order and
 * stops at the first that fails, without saying which one it was. So when it fails, the statements run
 * again one by one from a savepoint set before them, up to the one PostgreSQL rejects, and `rejected`
 * makes the error thrown. When none fails alone, or the savepoint cannot be reached (the connection is
 * gone), `rejected` gets `undefined` and the message's own error. The caller must then roll its
 * transaction back (throwing from a transactional callback does).
 *
 * The savepoint goes in a message of its own: PostgreSQL parses a whole message before it runs any of
 * it, so a syntax error in one statement fails the message before a savepoint in it would be set.
 * Success costs two round trips; a failure, one more per statement up to the rejected one.
 */
export async function runInOneMessage<S extends { readonly sql: string }>(db: Queryable, statements: readonly S[], rejected: RejectedStatement<S>): Promise<void> {
  if (statements.length === 0) return;
  await db.query(`savepoint ${SAVEPOINT}`);
  const text = [...statements.map((s) => s.sql), `release savepoint ${SAVEPOINT}`].join(';\n');
  try {
    await db.query(text);
  } catch (error) {
    throw await singleOut(db, statements, rejected, () => rejected(undefined, error, postgresMessage(error, text)));
  }
}

async function singleOut<S extends { readonly sql: string }>(db: Queryable, statements: readonly S[], rejected: RejectedStatement<S>, unidentified: () => Error): Promise<Error> {
  try {
    await db.query(`rollback to savepoint ${SAVEPOINT}`);
  } catch {
    // Safe to drop: this error only means the statements cannot be run again one by one (the connection
    // is gone); the message's own error is the one reported.
    return unidentified();
  }
  for (const statement of statements) {
    try {
      await db.query(statement.sql);
    } catch (error) {
      return rejected(statement, error, postgresMessage(error, statement.sql));
    }
  }
  return unidentified();
}

/** PostgreSQL's words from a driver error: some drivers prefix the message with the SQL they sent. */
export function postgresMessage(error: unknown, sql: string): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith(`${sql} - `) ? message.slice(sql.length + 3) : message;
}

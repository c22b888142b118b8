import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';

/**
 * Whether `query` is a Kysely query: a builder (`em.getKysely().selectFrom(...)`, Kysely's sql`...`) or a
 * compiled one (`.compile()`). MikroORM 7's `execute` takes SQL (a string, `raw()`, its own query
 * builder); given a Kysely query it sends the object itself as the statement to node-postgres.
 */
function isKyselyQuery(query: unknown): boolean {
  if (query === null || typeof query !== 'object') return false;
  const q = query as Record<string, unknown>;
  const builder = typeof q.compile === 'function' && typeof q.toOperationNode === 'function';
  const compiled = typeof q.sql === 'string' && Array.isArray(q.parameters) && typeof q.query === 'object';
  return builder || compiled;
}

/**
 * Refuses a Kysely query given to a scoped fork's `execute`, before anything is sent. Not run as it is:
 * outside a transaction its bound parameters cannot travel in the message that carries the scope, and
 * inside one Kysely runs it scoped already, through the transaction `em.getKysely()` returns.
 */
export function refuseKyselyQuery(query: unknown): void {
  if (!isKyselyQuery(query)) return;
  throw new RlsConfigurationError(
    'em.execute() (and getConnection().execute()) of a scoped fork takes SQL (a string, raw() or a MikroORM query builder), not a Kysely ' +
      "query (a builder, sql`...` or a compiled query): MikroORM would send the object itself as the statement. Run a Kysely query with " +
      "Kysely, inside the fork's transaction, where em.getKysely() is scoped: await em.transactional((tx) => tx.getKysely().selectFrom(...).execute()). " +
      'Or pass SQL with ? placeholders to em.execute(sql, params).',
  );
}

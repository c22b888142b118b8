import { CompiledQuery } from 'kysely';
import type { Queryable } from '../../../core/catalog/queryable';

/** The one member of a Kysely instance or transaction the catalog needs. */
export interface KyselyExecutor {
  executeQuery<R>(query: CompiledQuery<R>): Promise<{ rows: R[] }>;
}

/**
 * Adapts a Kysely transaction (what MikroORM 7's `connection.transactional` hands its callback) to the
 * catalog's `$1`-style queries. Kysely's PostgreSQL dialect uses `$n` placeholders itself, so the text and
 * its parameters go to node-postgres as they are, bound (never written into the SQL).
 */
export function kyselyQueryable(trx: KyselyExecutor): Queryable {
  return {
    async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      return (await trx.executeQuery(CompiledQuery.raw(sql, [...params]) as CompiledQuery<T>)).rows;
    },
  };
}

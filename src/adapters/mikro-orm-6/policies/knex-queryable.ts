import type { Knex } from '@mikro-orm/knex';
import type { Queryable } from '../../../core/catalog/queryable';

/** What knex's raw query resolves to on PostgreSQL: pg's result, or one per statement of a multi-statement text. */
type RawResult<T> = { rows: T[] } | { rows: unknown[] }[];

/**
 * Adapts a knex transaction to the catalog's `$1`-style queries. knex wants `?` placeholders, so `$n` is
 * rewritten when (and only when) there are parameters; DDL is sent untouched.
 */
export function knexQueryable(trx: Knex.Transaction): Queryable {
  return {
    async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      if (params.length === 0) {
        const result = (await trx.raw(sql)) as RawResult<T>;
        // Several statements in one message: no rows (as on MikroORM 7, whose Kysely driver returns none then).
        return Array.isArray(result) ? [] : result.rows;
      }
      const ordered: unknown[] = [];
      const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
        ordered.push(params[Number(n) - 1]);
        return '?';
      });
      return ((await trx.raw(text, ordered as Knex.RawBinding[])) as { rows: T[] }).rows;
    },
  };
}

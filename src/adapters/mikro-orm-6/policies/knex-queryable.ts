import type { Knex } from '@mikro-orm/knex';
import type { Queryable } from '../../../core/catalog/queryable';

/**
 * Adapts a knex transaction to the catalog's `$1`-style queries. knex wants `?` placeholders, so `$n` is
 * rewritten when (and only when) there are parameters; DDL is sent untouched.
 */
export function knexQueryable(trx: Knex.Transaction): Queryable {
  return {
    async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      if (params.length === 0) return ((await trx.raw(sql)) as { rows: T[] }).rows;
      const ordered: unknown[] = [];
      const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
        ordered.push(params[Number(n) - 1]);
        return '?';
      });
      return ((await trx.raw(text, ordered as Knex.RawBinding[])) as { rows: T[] }).rows;
    },
  };
}

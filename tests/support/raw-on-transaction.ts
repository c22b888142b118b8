import { mikroOrmTreeOfThisRun } from './mikro-orm-tree';

/**
 * Runs `text` as raw SQL directly on a transaction context as `em.getTransactionContext()` returns it,
 * below MikroORM: a knex transaction on MikroORM 6 (`trx.raw`), a Kysely transaction on MikroORM 7
 * (Kysely's `sql.raw(...).execute(trx)`). Returns the rows.
 */
export async function rawOnTransaction<Row = Record<string, unknown>>(trx: unknown, text: string): Promise<Row[]> {
  if (mikroOrmTreeOfThisRun() === 'root') return ((await (trx as { raw(sql: string): Promise<{ rows: Row[] }> }).raw(text)) as { rows: Row[] }).rows;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- Kysely exists only in the v7 tree
  const { sql } = require('kysely') as { sql: { raw(text: string): { execute(db: unknown): Promise<{ rows: Row[] }> } } };
  return (await sql.raw(text).execute(trx)).rows;
}

import { Client } from 'pg';

/**
 * Runs SQL on a connection of its own, closed afterwards: no client outlives a call, so nothing keeps
 * a Jest worker alive or blocks dropping the database. Returns the rows of the last statement.
 */
export async function runSql<T = any>(url: string, sql: string, params?: unknown[]): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query(sql, params as unknown[] | undefined);
    // Several statements without parameters produce one result each.
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    return last.rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * The one thing the catalog needs from a connection: run a parameterised query and get rows. A text of
 * several statements (without parameters) goes to PostgreSQL as one message, which runs them in order
 * and stops at the first that fails; it returns no rows.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/** The one thing the catalog needs from a connection: run a parameterised query and get rows. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

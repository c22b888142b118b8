/** A node-postgres client as knex's pool hands it to `afterCreate` (and pg-pool to its `connect` listeners). */
interface PooledClient {
  connection: { on(event: 'readyForQuery', listener: () => void): void };
}

/** A pg-pool Pool as MikroORM 7 hands it to `driverOptions.onPoolCreated`. */
interface PgPool {
  on(event: 'connect', listener: (client: PooledClient) => void): void;
}

/**
 * Counts round trips to PostgreSQL on every connection of a pool: the server ends each answer with one
 * ReadyForQuery message, and the client waits for it before it sends the next message. So the count
 * of ReadyForQuery messages is the count of round trips, measured on the wire rather than guessed from
 * the query log. Pass `afterCreate` in the ORM's `pool` options (MikroORM 6, knex's pool), or
 * `onPoolCreated` in its `driverOptions` (MikroORM 7, which builds a pg Pool and has no `afterCreate`);
 * counting starts with the next message.
 */
export class RoundTripCounter {
  private received = 0;

  readonly afterCreate = (client: PooledClient, done: (error: Error | null, client: PooledClient) => void): void => {
    client.connection.on('readyForQuery', () => {
      this.received += 1;
    });
    done(null, client);
  };

  /** MikroORM 7: every client the pool connects (pg-pool's `connect` event) is counted from then on. */
  readonly onPoolCreated = (pool: PgPool): void => {
    pool.on('connect', (client) => this.afterCreate(client, () => undefined));
  };

  /** Round trips completed while `work` ran (run it alone on the pool for an exact count). */
  async during(work: () => Promise<unknown>): Promise<number> {
    const before = this.received;
    await work();
    return this.received - before;
  }
}

/** A node-postgres client as knex's pool hands it to `afterCreate`. */
interface PooledClient {
  connection: { on(event: 'readyForQuery', listener: () => void): void };
}

/**
 * Counts round trips to PostgreSQL on every connection of a pool: the server ends each answer with one
 * ReadyForQuery message, and the client waits for it before it sends the next message. So the count
 * of ReadyForQuery messages is the count of round trips, measured on the wire rather than guessed from
 * the query log. Pass `afterCreate` in the ORM's `pool` options; counting starts with the next message.
 */
export class RoundTripCounter {
  private received = 0;

  readonly afterCreate = (client: PooledClient, done: (error: Error | null, client: PooledClient) => void): void => {
    client.connection.on('readyForQuery', () => {
      this.received += 1;
    });
    done(null, client);
  };

  /** Round trips completed while `work` ran (run it alone on the pool for an exact count). */
  async during(work: () => Promise<unknown>): Promise<number> {
    const before = this.received;
    await work();
    return this.received - before;
  }
}

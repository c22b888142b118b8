/** A node-postgres client, as knex's pool hands it to `afterCreate` and pg-pool emits it on `connect`. */
interface PooledClient {
  connection: { on(event: 'readyForQuery', listener: () => void): void };
}

/** A pg Pool, as MikroORM 7 hands it to `driverOptions.onPoolCreated`. */
interface PgPool {
  on(event: 'connect', listener: (client: PooledClient) => void): void;
}

type Done = (error: Error | null, client: PooledClient) => void;

interface PoolAndDriverOptions {
  pool?: object;
  driverOptions?: object;
}

/**
 * Counts round trips to PostgreSQL on every connection of a pool: the server ends each answer with one
 * ReadyForQuery message, and the client waits for it before it sends the next message. So the count
 * of ReadyForQuery messages is the count of round trips, measured on the wire rather than guessed from
 * the query log. Installed on the pg client of every new connection: through knex's `pool.afterCreate`
 * on MikroORM 6, through the pg Pool's `connect` event on MikroORM 7 (each major ignores the other's
 * hook). Counting starts with the next message.
 */
export class RoundTripCounter {
  private received = 0;

  private readonly follow = (client: PooledClient): void => {
    client.connection.on('readyForQuery', () => {
      this.received += 1;
    });
  };

  /** MikroORM 6: knex's hook on every new connection, before the pool has it. */
  readonly afterCreate = (client: PooledClient, done: Done): void => {
    this.follow(client);
    done(null, client);
  };

  /** MikroORM 7: called with the pg Pool MikroORM builds, which emits every new client on `connect` (before its first use). */
  readonly onPoolCreated = (pool: PgPool): void => {
    pool.on('connect', this.follow);
  };

  /**
   * `options` with the counter installed for either major; an `onPoolCreated` already in
   * `driverOptions` is still called (a user `afterCreate` in `pool` is replaced).
   */
  installIn<O extends PoolAndDriverOptions>(options: O): O {
    const theirs = (options.driverOptions as { onPoolCreated?: (pool: PgPool) => unknown } | undefined)?.onPoolCreated;
    const onPoolCreated = theirs ? (pool: PgPool) => (this.onPoolCreated(pool), theirs(pool)) : this.onPoolCreated;
    return {
      ...options,
      pool: { ...options.pool, afterCreate: this.afterCreate },
      driverOptions: { ...options.driverOptions, onPoolCreated },
    };
  }

  /** Round trips completed while `work` ran (run it alone on the pool for an exact count). */
  async during(work: () => Promise<unknown>): Promise<number> {
    const before = this.received;
    await work();
    return this.received - before;
  }
}

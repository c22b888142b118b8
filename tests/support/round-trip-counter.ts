import { mikroOrmTreeOfThisRun } from './mikro-orm-tree';

/** A node-postgres client, as knex's pool hands it to `afterCreate` (v6) or pg's Pool to its 'connect' listeners (v7). */
interface PooledClient {
  connection: { on(event: 'readyForQuery', listener: () => void): void };
}

/** The pool-related ORM options a counter needs, under the installed major's names. */
export interface CountedPoolOptions {
  pool: Record<string, unknown>;
  driverOptions?: Record<string, unknown>;
}

/**
 * Counts round trips to PostgreSQL on every connection of a pool: the server ends each answer with one
 * ReadyForQuery message, and the client waits for it before it sends the next message. So the count
 * of ReadyForQuery messages is the count of round trips, measured on the wire rather than guessed from
 * the query log. Spread `ormOptions(pool)` into the ORM's options; counting starts with the next message.
 */
export class RoundTripCounter {
  private received = 0;

  /** knex's pool hook (MikroORM 6): called with each new client. */
  readonly afterCreate = (client: PooledClient, done: (error: Error | null, client: PooledClient) => void): void => {
    this.count(client);
    done(null, client);
  };

  /**
   * `pool` with this counter on every new connection: MikroORM 6 passes `pool.afterCreate` to knex's
   * pool; MikroORM 7 builds a pg Pool and hands it to `driverOptions.onPoolCreated`, whose 'connect'
   * event gives each new client. `driverOptions` are kept (and their own onPoolCreated still called).
   */
  ormOptions(pool: Record<string, unknown>, driverOptions?: Record<string, unknown>): CountedPoolOptions {
    if (mikroOrmTreeOfThisRun() === 'root') return { pool: { ...pool, afterCreate: this.afterCreate }, ...(driverOptions ? { driverOptions } : {}) };
    const theirs = driverOptions?.onPoolCreated as ((pool: unknown) => unknown) | undefined;
    return {
      pool,
      driverOptions: {
        ...driverOptions,
        onPoolCreated: (created: { on(event: 'connect', listener: (client: PooledClient) => void): void }) => {
          created.on('connect', (client) => this.count(client));
          return theirs?.(created);
        },
      },
    };
  }

  /**
   * MikroORM 7 only, for options built by hand (the benchmark): every client the pool connects (pg-pool's
   * 'connect' event) is counted from then on. Tests use `ormOptions`, which picks the right hook per major.
   */
  readonly onPoolCreated = (pool: { on(event: 'connect', listener: (client: PooledClient) => void): void }): void => {
    pool.on('connect', (client) => this.count(client));
  };

  /** Round trips completed while `work` ran (run it alone on the pool for an exact count). */
  async during(work: () => Promise<unknown>): Promise<number> {
    const before = this.received;
    await work();
    return this.received - before;
  }

  private count(client: PooledClient): void {
    client.connection.on('readyForQuery', () => {
      this.received += 1;
    });
  }
}

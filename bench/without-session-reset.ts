import { sessionReset } from '../src/adapters/mikro-orm-6/wire/session-reset';

/** A node-postgres client as knex's pool hands it to `afterCreate`; knex sends with `query(config, callback)`. */
interface PooledClient {
  query(...args: unknown[]): unknown;
}

type Callback = (error: Error | null, result: unknown) => void;

/** What node-postgres answers for a statement without rows; stands in for the results the reset would have added. */
const emptyResult = () => ({ command: null, rowCount: null, rows: [], fields: [] });

/**
 * For the benchmark only, never for an application: takes the session reset (src/adapters/mikro-orm-6/wire/session-reset.ts)
 * off the messages a pool's connections send, so that a scoped variant can be measured with and without
 * it, side by side in the same run; the difference is what the reset costs. Everything else is the
 * library's own code and messages. The reset travels at the end of a scoped message
 * (`<scope>;\n<sql>\n;\n<reset>`) and behind a scoped transaction's COMMIT (`COMMIT;\n<reset>`); here it
 * is cut off before the message leaves, and the results it would have added are put back (empty), so
 * the library finds the answer it expects.
 */
export class WithoutSessionReset {
  private removed = 0;
  private readonly afterStatements: string;
  private readonly afterCommit: string;
  private readonly results: number;

  /** `variables`: the context variables the ORM resets (`<prefix>.<field>`), as the library computes them. */
  constructor(variables: readonly string[]) {
    const reset = sessionReset(variables);
    this.afterStatements = `\n;\n${reset.sql}`;
    this.afterCommit = `COMMIT;\n${reset.sql}`;
    this.results = reset.results;
  }

  /** Pass in the ORM's `pool` options (and only that ORM's): wraps every connection the pool creates. */
  readonly afterCreate = (client: PooledClient, done: (error: Error | null, client: PooledClient) => void): void => {
    const send = client.query.bind(client);
    client.query = (...args: unknown[]) => {
      const [config, callback] = args as [{ text?: unknown } | undefined, Callback | undefined];
      const text = typeof config?.text === 'string' ? config.text : undefined;
      if (text === undefined || typeof callback !== 'function' || args.length !== 2) return send(...args);
      if (text === this.afterCommit) {
        this.removed += 1;
        return send({ ...config, text: 'COMMIT;' }, callback);
      }
      if (text.endsWith(this.afterStatements)) {
        this.removed += 1;
        // The scope statement and the caller's SQL are two statements at least: the answer is an array.
        const padded: Callback = (error, result) => callback(error, Array.isArray(result) ? [...result, ...Array.from({ length: this.results }, emptyResult)] : result);
        return send({ ...config, text: text.slice(0, -this.afterStatements.length) }, padded);
      }
      return send(...args);
    };
    done(null, client);
  };

  /**
   * Messages the reset was taken off while `work` ran. The benchmark checks that every operation lost
   * at least one: if the reset's shape changed, nothing would be cut and "without" would measure "with".
   */
  async during(work: () => Promise<unknown>): Promise<number> {
    const before = this.removed;
    await work();
    return this.removed - before;
  }
}

import { CompiledQuery, type DatabaseConnection, type Dialect, type Driver, type TransactionSettings } from 'kysely';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { withoutStore } from './scope-storage';

export const LEASE_OVER =
  'mikro-orm-rls: this transaction (or savepoint) is over: its connection went back to the pool, where another request may be ' +
  'using it, so nothing more runs on it. A manager, em.getKysely() or a Kysely transaction kept from a transactional() callback ' +
  '(or an em.begin()) cannot be used after its transaction ended: run the work in a new transaction, with the manager it gives you.';

type Options = Parameters<DatabaseConnection['executeQuery']>[1];
type Compiled = Parameters<DatabaseConnection['executeQuery']>[0];

// Each live lease's connection. Module-private: nothing a lease's holder can reach gives the raw
// connection back, or ends the lease.
const LEASED = new WeakMap<object, DatabaseConnection>();
// The connection whose hook threw, by the options object of the acquire it ran in (see LeasingDriver).
const FAILED_HOOKS = new WeakMap<object, DatabaseConnection>();

/** Ends `lease`; its connection, for the pool (undefined when already given back, or not a lease). */
function endLease(lease: object): DatabaseConnection | undefined {
  const connection = LEASED.get(lease);
  LEASED.delete(lease);
  return connection;
}

/** Whether `connection` is a lease handed out here (a Kysely client built on the leasing dialect). */
export function isLease(connection: unknown): boolean {
  return connection instanceof ConnectionLease;
}

/**
 * One hand-out of a pooled connection to Kysely: what Kysely's transactions and savepoints hold, and
 * send every statement through, until the connection goes back to the pool. Kysely gives each of them
 * the connection object its driver acquired and reuses that object for every later hand-out of the
 * same pg client, and it marks a committed transaction as such but not the savepoints opened in it: a
 * savepoint (or the manager, em.getKysely() or fork holding it) kept past its transaction would send
 * its statements on the pg client whoever acquired it next holds, inside their transaction, with their
 * scope or role. A lease is a new object per hand-out that refuses everything once it is given back.
 */
class ConnectionLease implements DatabaseConnection {
  constructor(connection: DatabaseConnection) {
    LEASED.set(this, connection);
  }

  get #connection(): DatabaseConnection | undefined {
    return LEASED.get(this);
  }

  #live(): DatabaseConnection {
    const connection = this.#connection;
    if (!connection) throw new RlsConfigurationError(LEASE_OVER);
    return connection;
  }

  async executeQuery<R>(compiled: Compiled, options?: Options) {
    return this.#live().executeQuery<R>(compiled, options);
  }

  async *streamQuery<R>(compiled: Compiled, chunkSize: number, options?: Options) {
    const rows = this.#live().streamQuery<R>(compiled, chunkSize, options);
    let done = false;
    try {
      for (;;) {
        // Each chunk is read on the pg client: only while the lease lasts.
        this.#live();
        const next = await rows.next();
        if (next.done) {
          done = true;
          return;
        }
        yield next.value;
      }
    } finally {
      // A stream left early (break, return, an error) closes its cursor, as Kysely's own does; but not
      // once the lease is over: the close would be sent into the next user's session.
      if (!done && this.#connection) await rows.return?.(undefined);
    }
  }

  // Kysely's query cancellation (an abort signal), on the leased connection only.
  async cancelQuery(...args: Parameters<NonNullable<DatabaseConnection['cancelQuery']>>) {
    return this.#live().cancelQuery?.(...args);
  }

  async killSession(...args: Parameters<NonNullable<DatabaseConnection['killSession']>>) {
    return this.#live().killSession?.(...args);
  }

  async collectSessionInfo() {
    return this.#live().collectSessionInfo?.();
  }
}

/**
 * Kysely's driver of a connection, handing out {@link ConnectionLease}s. Kysely's connection hooks
 * (`onCreateConnection`, `onReserveConnection`) run while the driver acquires a connection, which Kysely
 * does inside its call that sends a statement: they run outside that statement's scope store (see
 * scope-storage.ts), so a statement of theirs can take neither the scope nor a scoped BEGIN.
 */
class LeasingDriver implements Driver {
  readonly #driver: Driver;

  constructor(driver: Driver) {
    this.#driver = driver;
  }

  init(): Promise<void> {
    return this.#driver.init();
  }

  async acquireConnection(options?: Parameters<Driver['acquireConnection']>[0]): Promise<DatabaseConnection> {
    // The hooks get this acquire's own options object: a hook that throws records its connection on it.
    const attempt = { ...options };
    try {
      return new ConnectionLease(await withoutStore(() => this.#driver.acquireConnection(attempt)));
    } catch (error) {
      const failed = FAILED_HOOKS.get(attempt);
      if (failed) await withoutStore(() => this.#destroy(failed));
      throw error;
    }
  }

  /**
   * A connection whose hook threw: Kysely neither returns it to its caller nor releases it, so the pool
   * would be short of it for good. It goes back destroyed (a hook that failed half way left its session
   * in a state no one checked, and Kysely would not run onCreateConnection on it again): inside a
   * transaction it is not idle, which the pool guard of the pg client (rls-pg-client.ts) never hands on.
   */
  async #destroy(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin')).catch(() => {
      // Safe to ignore: a connection whose BEGIN failed is destroyed by the pg client itself.
    });
    await this.#driver.releaseConnection(connection);
  }

  // The driver's transaction commands send their statement through the lease they are given.
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#driver.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#driver.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#driver.rollbackTransaction(connection);
  }

  async savepoint(...args: Parameters<NonNullable<Driver['savepoint']>>): Promise<void> {
    return this.#driver.savepoint?.(...args);
  }

  async rollbackToSavepoint(...args: Parameters<NonNullable<Driver['rollbackToSavepoint']>>): Promise<void> {
    return this.#driver.rollbackToSavepoint?.(...args);
  }

  async releaseSavepoint(...args: Parameters<NonNullable<Driver['releaseSavepoint']>>): Promise<void> {
    return this.#driver.releaseSavepoint?.(...args);
  }

  async releaseConnection(lease: DatabaseConnection, ...rest: unknown[]): Promise<void> {
    const connection = endLease(lease);
    if (connection) await (this.#driver.releaseConnection as (c: DatabaseConnection, ...r: unknown[]) => Promise<void>)(connection, ...rest);
  }

  destroy(): Promise<void> {
    return this.#driver.destroy();
  }
}

/**
 * `dialect` with a driver that hands out {@link ConnectionLease}s. A Proxy: every other member reads
 * through to the dialect itself, bound to it (Kysely's dialects keep their config in #private fields).
 */
export function leasingDialect<D extends Dialect>(dialect: D): D {
  return new Proxy(dialect, {
    get(target, prop) {
      if (prop === 'createDriver') return () => new LeasingDriver(target.createDriver());
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

type Hook = (connection: DatabaseConnection, ...rest: unknown[]) => unknown;

/**
 * Runs a Kysely connection hook (`onCreateConnection`, `onReserveConnection`) on a lease of the
 * connection that ends when the hook's promise settles: a hook that keeps the connection object it was
 * given (or fires a statement on a timer) cannot run SQL later on whoever holds the pg client then.
 */
export async function runHookOnLease(hook: Hook, connection: DatabaseConnection, rest: unknown[]): Promise<void> {
  const lease = new ConnectionLease(connection);
  try {
    await hook(lease, ...rest);
  } catch (error) {
    // Kysely passes the hook the options of the acquire it runs in (LeasingDriver's own object).
    const attempt = rest[0];
    if (attempt !== null && typeof attempt === 'object') FAILED_HOOKS.set(attempt, connection);
    throw error;
  } finally {
    endLease(lease);
  }
}

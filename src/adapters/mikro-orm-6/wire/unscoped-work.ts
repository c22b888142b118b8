/**
 * Which pooled connections served SQL that no session reset of ours followed: unscoped work (a plain
 * fork, a raw client of knex's pool, MikroORM's own statements), whose session-level changes (`SET ROLE`,
 * `set_config(..., false)`, a temporary table named like an entity table) would otherwise reach the next
 * user of the connection, scoped or not. Scoped work needs no record: its last message (the scoped
 * statement outside a transaction, the COMMIT or ROLLBACK of a scoped transaction) ends with the reset.
 *
 * Followed on node-postgres's public `query`, through which knex sends every message: each message counts
 * as unscoped work unless it is one this package announced ({@link sendsSessionReset}: a message of its
 * own that ends with the reset) and it succeeds, and nothing was sent after it. Only the announcement
 * counts, never the text alone: SQL of the caller's that merely ends with the reset's text can disarm it
 * (`set role x;\n-- reset role;...` comments its first line out).
 */

/** The node-postgres client members followed here. */
interface QueryingConnection {
  query(...args: unknown[]): unknown;
}

interface Followed {
  /** Messages sent so far: a reset clears the record only if it was the last one. */
  sent: number;
  unscopedSince: boolean;
  /** Texts of messages of ours, announced before they are sent, that end with the session reset. */
  readonly announced: Map<string, number>;
}

const FOLLOWED = new WeakMap<object, Followed>();

/**
 * Starts following `connection`, which is idle and whose session holds only what its creation set
 * (knex's and the user's `afterCreate`): from here on, SQL not followed by `resetSql()` marks it.
 */
export function followUnscopedWork(connection: QueryingConnection): void {
  if (FOLLOWED.has(connection)) return;
  const followed: Followed = { sent: 0, unscopedSince: false, announced: new Map() };
  FOLLOWED.set(connection, followed);
  const query = connection.query.bind(connection);
  connection.query = (...args: unknown[]) => {
    const number = ++followed.sent;
    followed.unscopedSince = true;
    const [config] = args;
    const text = typeof config === 'string' ? config : (config as { text?: unknown } | null)?.text;
    if (typeof text !== 'string' || !takeAnnouncement(followed, text)) return query(...args);
    const cleared = () => {
      if (followed.sent === number) followed.unscopedSince = false;
    };
    const callback = args.findIndex((arg, index) => index > 0 && typeof arg === 'function');
    if (callback > 0) {
      const done = args[callback] as (error: unknown, ...rest: unknown[]) => void;
      args[callback] = (error: unknown, ...rest: unknown[]) => {
        if (!error) cleared();
        done(error, ...rest);
      };
      return query(...args);
    }
    const result = query(...args);
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(cleared, () => {
        // The caller gets the failure from the same promise; the connection simply stays marked.
      });
    }
    return result;
  };
}

function takeAnnouncement(followed: Followed, text: string): boolean {
  const count = followed.announced.get(text);
  if (count === undefined) return false;
  if (count > 1) followed.announced.set(text, count - 1);
  else followed.announced.delete(text);
  return true;
}

/**
 * Announces that this package is about to send `text`, a message of its own that ends with the session
 * reset, on `connection`: once it succeeds (and nothing was sent after it), the connection counts as reset.
 */
export function sendsSessionReset(connection: object, text: string): void {
  const followed = FOLLOWED.get(connection);
  if (followed) followed.announced.set(text, (followed.announced.get(text) ?? 0) + 1);
}

/** Whether `connection` served SQL since its session was last reset (see {@link followUnscopedWork}). */
export function servedUnscopedWork(connection: object): boolean {
  return FOLLOWED.get(connection)?.unscopedSince === true;
}

/** The node-postgres client members a reset on release needs. */
interface ReleasedConnection extends QueryingConnection {
  readyForQuery: boolean;
}

/** knex's client: its `releaseConnection` is the one place every connection passes on its way back. */
interface ReleasingKnexClient {
  releaseConnection(connection: unknown): Promise<unknown>;
}

const RESETS_IN_FLIGHT = new WeakMap<object, Promise<boolean>>();
const RESETTING_CLIENTS = new WeakSet<object>();

/**
 * Makes knex's client send the session reset of a connection that served unscoped work as it goes back to
 * the pool, so that the reset's round trip overlaps with the caller's own work instead of delaying the
 * next user (the pool's validate hook awaits it, see {@link settleResetOnRelease}). Idempotent. A
 * connection released some other way is reset by that hook instead, in a round trip of its own.
 */
export function resetOnRelease(knexClient: ReleasingKnexClient, resetSql: () => string): void {
  if (RESETTING_CLIENTS.has(knexClient)) return;
  RESETTING_CLIENTS.add(knexClient);
  const release = knexClient.releaseConnection.bind(knexClient);
  knexClient.releaseConnection = (connection: unknown) => {
    const released = connection as ReleasedConnection;
    // Sent only on an idle connection with nothing in flight; any other is destroyed by the pool guard.
    if (servedUnscopedWork(released) && released.readyForQuery === true && !RESETS_IN_FLIGHT.has(released)) {
      const reset = resetSql();
      sendsSessionReset(released, reset);
      const sent = Promise.resolve(released.query(reset)).then(
        () => true,
        // Safe to swallow: the pool guard reads `false` as "destroy this connection" and does.
        () => false,
      );
      RESETS_IN_FLIGHT.set(released, sent);
    }
    return release(connection);
  };
}

/** Awaits the reset sent on release, if any: `false` when it failed (the connection must be destroyed). */
export async function settleResetOnRelease(connection: object): Promise<boolean> {
  const inFlight = RESETS_IN_FLIGHT.get(connection);
  if (!inFlight) return true;
  const succeeded = await inFlight;
  RESETS_IN_FLIGHT.delete(connection);
  return succeeded;
}

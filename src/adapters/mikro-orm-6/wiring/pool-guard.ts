import type { Options } from '@mikro-orm/core';
import type { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { trackConnection, transactionStatus, type PooledConnection } from '../wire/connection-state';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { needsSessionReset, settleSessionReset } from '../wire/session-reset';
import { followUnscopedWork, resetOnRelease, servedUnscopedWork, settleResetOnRelease } from '../wire/unscoped-work';
import { sessionResetOf } from '../../../core/settings/session-reset-of';
import type { RlsSettings } from '../../../core/settings/rls-settings';

type PoolOptions = NonNullable<Options<PostgreSqlDriver>['pool']>;
type Validate = (connection: unknown) => boolean | Promise<boolean>;
type Done = (error: Error | null, connection: unknown) => void;
type AfterCreate = (connection: unknown, done: Done) => void;

/** The validate hooks made by {@link guardedPool} (so options guarded once are not wrapped twice), with their ORM's reset. */
const GUARDS = new WeakMap<Validate, () => string>();

/**
 * Whether a pooled connection may be handed out: idle, with no message in flight. knex hands a
 * connection back to the pool whatever state its transaction is in (a client-side `query_timeout`
 * abandons a statement the server still runs, and the ROLLBACK queued behind it), so the next user
 * would run inside that transaction, with its scope. A connection that fails this is destroyed by the
 * pool (closing it makes the server roll its transaction back), and another one is made.
 */
export function isReusable(connection: PooledConnection): boolean {
  return connection.readyForQuery === true && transactionStatus(connection) === 'I';
}

/** The ORM's session reset, built once discovery has named the context variables. */
function sessionResetSql(settings: RlsSettings): () => string {
  let built: string | undefined;
  return () => built ?? (settings.isCompiled ? (built = sessionResetOf(settings).sql) : sessionResetOf(settings).sql);
}

/**
 * The pool options with knex's public `validate` hook (run on every acquire, for the primary and every
 * read replica) refusing connections that are not reusable, and first resetting the session of one that
 * served unscoped work since its last reset, or whose scoped work failed (see session-reset.ts and
 * unscoped-work.ts); a user's own `validate` still runs after it.
 */
export function guardedPool(pool: PoolOptions | undefined, settings: RlsSettings): PoolOptions {
  const userValidate = (pool as { validate?: Validate } | undefined)?.validate;
  if (userValidate && GUARDS.has(userValidate)) return pool!; // already guarded (options set again)
  const resetSql = sessionResetSql(settings);
  const validate: Validate = async (connection) => {
    const pooled = connection as PooledConnection & Parameters<typeof settleSessionReset>[0];
    if (!(await settleResetOnRelease(pooled)) || !isReusable(pooled)) return false;
    if (servedUnscopedWork(pooled)) needsSessionReset(pooled, { sql: resetSql() });
    if (!(await settleSessionReset(pooled)) || !isReusable(pooled)) return false;
    return userValidate ? userValidate(connection) : true;
  };
  GUARDS.set(validate, resetSql);
  const userAfterCreate = (pool as { afterCreate?: AfterCreate } | undefined)?.afterCreate;
  return { ...pool, validate, afterCreate: followedFromBirth(userAfterCreate) } as PoolOptions;
}

/**
 * knex's `afterCreate` hook, which runs on every new connection before the pool has it: the connection
 * is followed from here on, while it is surely idle (knex's own set-up statements are done), so that
 * the state the user's own `afterCreate` leaves it in is known. Followed only from its first acquire,
 * it would be taken as idle then, and a transaction the user's hook left open (with whatever it set in
 * it) would be handed to the connection's first user. If the user's hook fails, knex drops the
 * connection without closing it (it stays open, with what the hook set, for the life of the process):
 * it is closed here before the failure is reported.
 */
function followedFromBirth(userAfterCreate: AfterCreate | undefined): AfterCreate {
  return (connection, done) => {
    trackConnection(connection as PooledConnection);
    // Followed before the user's hook runs: what its SQL sets within the reset's reach (`SET ROLE`, the
    // search_path, context variables, temporary tables) is reset before the connection's first use, as
    // it would be after any other unscoped work. Every use of every connection then starts from the same
    // session, the one the role check (once per pool) checks; a hook's SET ROLE cannot reach some
    // connections' first statements only.
    followUnscopedWork(connection as Parameters<typeof followUnscopedWork>[0]);
    if (!userAfterCreate) return done(null, connection);
    const finish: Done = (error, created) => {
      if (!error) return done(null, created);
      (connection as { end(): Promise<void> }).end().then(
        () => done(error, created),
        () => done(error, created),
      );
    };
    try {
      userAfterCreate(connection, finish);
    } catch (error) {
      finish(error as Error, connection);
    }
  };
}

/** The parts of knex's client that say which pool options it was built with. */
interface KnexWithConfig {
  client: { config?: { pool?: { validate?: unknown } } };
}

/**
 * Refuses scoped work on a knex whose pool was built without the guard: its options were replaced
 * below `withRls` (`orm.config.reset('pool')`, writes into `orm.config.getAll()`, a `validate`
 * swapped on the guarded options, a disguised knex instance) and then reconnected. Without the guard, a
 * connection a scoped fork left with session state or inside a transaction would reach the next user.
 */
export function assertPoolGuarded(knex: KnexWithConfig): void {
  const validate = knex.client.config?.pool?.validate;
  const resetSql = typeof validate === 'function' ? GUARDS.get(validate as Validate) : undefined;
  if (resetSql) return resetOnRelease(knex.client as unknown as Parameters<typeof resetOnRelease>[0], resetSql);
  throw new RlsConfigurationError(
    "mikro-orm-rls refuses to run scoped queries: this ORM's connection pool was built without its pool guard (which resets or destroys " +
      'a connection a scoped fork left with session state or inside a transaction). The pool options were replaced after withRls() ' +
      "(orm.config.reset('pool'), a write into orm.config.getAll(), a validate swapped on them, or a knex instance as driverOptions). " +
      'Change pool options through withRls(...), orm.reconnect(options) or orm.config.set(...) instead, then reconnect.',
  );
}

import type { AbstractSqlConnection } from '@mikro-orm/sql';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { RlsPgClient, SESSION_RESET_OPTION } from '../wire/rls-pg-client';
import { sessionResetOf } from '../../../core/settings/session-reset-of';
import type { RlsSettings } from '../../../core/settings/rls-settings';

type DriverOptions = Record<string, unknown> & { Client?: unknown };

const isGuardClient = (candidate: unknown) => candidate === RlsPgClient || (typeof candidate === 'function' && candidate.prototype instanceof RlsPgClient);

/**
 * `driverOptions` (of the primary or of a replica, which MikroORM 7 uses instead of the primary's, not
 * merged) with {@link RlsPgClient} as the class of every pooled client: it carries the scope in the
 * statement's message and guards the pool's release. Refused when that cannot be installed: a ready
 * Kysely instance or dialect, a function, or a `Client` of the user's own (a subclass of RlsPgClient is
 * accepted). The options also tell each client the ORM's session reset (read when it is needed, after
 * discovery has named the context variables): pg-pool hands its options to every client it makes.
 */
export function guardedDriverOptions(driverOptions: unknown, owner: string, settings: RlsSettings): DriverOptions {
  const reset = { [SESSION_RESET_OPTION]: () => sessionResetOf(settings).sql };
  if (driverOptions === undefined || driverOptions === null) return { Client: RlsPgClient, ...reset };
  const plain = typeof driverOptions === 'object' && Object.getPrototypeOf(driverOptions) === Object.prototype && !('createDriver' in driverOptions);
  if (!plain) {
    throw new RlsConfigurationError(
      `withRls: driverOptions of ${owner} is a Kysely instance, a dialect or a function. mikro-orm-rls installs its own pg Client class ` +
        '(it carries the scope in the same message as each statement and resets or destroys a connection a scoped fork left with ' +
        'session state) through the pool options MikroORM builds the pg Pool from. Pass pool options as a plain object instead.',
    );
  }
  const options = driverOptions as DriverOptions;
  if (options.Client !== undefined && !isGuardClient(options.Client)) {
    throw new RlsConfigurationError(
      `withRls: driverOptions.Client of ${owner} is a pg Client class of your own, which mikro-orm-rls cannot wrap: scoped statements ` +
        "would run without their scope. Extend mikro-orm-rls's client instead (the class in driverOptions.Client of withRls's result).",
    );
  }
  return { ...options, Client: options.Client ?? RlsPgClient, ...reset };
}

// Pools already checked (built from guarded options): the check runs once per pool.
const GUARDED = new WeakSet<object>();

/**
 * Refuses scoped work on a pool whose clients are not {@link RlsPgClient}: its options were replaced
 * below `withRls` (`orm.config.reset('driverOptions')`, writes into `orm.config.getAll()`) and then
 * reconnected. Without it, scoped statements would run without their scope.
 */
export async function assertPoolGuarded(connection: AbstractSqlConnection): Promise<void> {
  const pool = (await (connection as unknown as { getNativeClient(): Promise<{ Client?: unknown }> }).getNativeClient()) as { Client?: unknown };
  if (GUARDED.has(pool)) return;
  if (!isGuardClient(pool.Client)) {
    throw new RlsConfigurationError(
      "mikro-orm-rls refuses to run scoped queries: this ORM's connection pool was built without its pg client (which carries the " +
        'scope and guards the pool). The driverOptions were replaced after withRls() (orm.config.reset, a write into ' +
        'orm.config.getAll()). Change them through withRls(...), orm.reconnect(options) or orm.config.set(...) instead, then reconnect.',
    );
  }
  GUARDED.add(pool);
}

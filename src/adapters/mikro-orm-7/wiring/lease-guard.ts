import type { Configuration } from '@mikro-orm/core';
import type { AbstractSqlConnection } from '@mikro-orm/sql';
import type { Dialect, Kysely } from 'kysely';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import type { RlsSettings } from '../../../core/settings/rls-settings';
import { isLease, leasingDialect } from '../wire/connection-leases';
import { leasedOnReserveConnection, resetAfterOnCreateConnection } from './connection-hooks';

type DialectFactory = (overrides?: unknown) => Dialect | Promise<Dialect>;
interface DriverConnections {
  getConnection(type?: 'read' | 'write'): AbstractSqlConnection;
  readonly replicas: readonly AbstractSqlConnection[];
}
type HookOptions = { onCreateConnection?: unknown; onReserveConnection?: unknown };

/**
 * Makes the primary and every replica connection of `driver` build their Kysely on a dialect whose
 * driver hands out a lease per acquire, dead once the connection is released: a transaction or
 * savepoint kept past its end cannot run on the connection's next user. Installed on the connection
 * objects (MikroORM keeps them across `orm.reconnect()`, which builds a new Kysely through the same
 * `createKyselyDialect`) before anything connects: from the extension `withRls` registers, which MikroORM
 * runs in its constructor.
 */
export function leaseConnectionsOf(driver: DriverConnections): void {
  for (const connection of [driver.getConnection('write'), ...driver.replicas]) {
    if (Object.prototype.hasOwnProperty.call(connection, 'createKyselyDialect')) continue;
    const createDialect = (connection as unknown as { createKyselyDialect: DialectFactory }).createKyselyDialect.bind(connection);
    Object.defineProperty(connection, 'createKyselyDialect', {
      configurable: true,
      value: (overrides?: unknown) => {
        guardHooksOf(connection);
        const dialect = createDialect(overrides);
        return dialect instanceof Promise ? dialect.then(leasingDialect) : leasingDialect(dialect);
      },
    });
  }
}

/**
 * The connection hooks MikroORM is about to hand the new dialect (the connection's own options, a
 * replica's, or the configuration's), guarded however they got there: `withRls` guards those it is
 * given and those set later with `config.set`, but one written into `orm.config.getAll()` bypasses both.
 */
function guardHooksOf(connection: AbstractSqlConnection): void {
  const config = (connection as unknown as { config: Configuration }).config;
  const settings = config.get('rls' as never) as unknown as RlsSettings;
  const guard = (options: HookOptions) => {
    if (options.onCreateConnection !== undefined) options.onCreateConnection = resetAfterOnCreateConnection(options.onCreateConnection, settings);
    if (options.onReserveConnection !== undefined) options.onReserveConnection = leasedOnReserveConnection(options.onReserveConnection);
  };
  const own = (connection as unknown as { options?: HookOptions }).options;
  if (own) guard(own);
  guard(config.getAll() as HookOptions);
}

/** The MikroORM extension that installs {@link leaseConnectionsOf} on the ORM's driver. */
export const CONNECTION_LEASES = {
  name: 'mikro-orm-rls-connection-leases',
  register(orm: { driver: DriverConnections }): void {
    leaseConnectionsOf(orm.driver);
  },
};

/**
 * Refuses scoped work on a connection whose Kysely client does not hand out leases: asked of the client
 * itself (the connection its executor provides), once per client (the caller remembers it). It connected
 * before withRls's extension ran, or its options were replaced below withRls (a Kysely instance or
 * dialect, or a driverOptions function, written into `orm.config.getAll()`).
 */
export async function assertLeasing(connection: AbstractSqlConnection): Promise<void> {
  const client = connection.getClient() as unknown as Kysely<unknown>;
  const leased = await client.getExecutor().provideConnection(async (provided) => isLease(provided));
  if (leased) return;
  throw new RlsConfigurationError(
    "mikro-orm-rls refuses to run scoped queries: this ORM's Kysely client was built without mikro-orm-rls's connection leases (which " +
      'keep a transaction that is over from running on the next user of its connection). It connected before the extension withRls() ' +
      'registers ran, or a Kysely instance, dialect or function was put into driverOptions below withRls() (orm.config.getAll()). Build ' +
      'the ORM from the options withRls() returns, and change options through orm.reconnect(options) or orm.config.set(...).',
  );
}

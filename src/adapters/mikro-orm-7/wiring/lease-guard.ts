import type { AbstractSqlConnection } from '@mikro-orm/sql';
import type { Dialect } from 'kysely';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { leasingDialect } from '../wire/connection-leases';

type DialectFactory = (overrides?: unknown) => Dialect | Promise<Dialect>;
interface DriverConnections {
  getConnection(type?: 'read' | 'write'): AbstractSqlConnection;
  readonly replicas: readonly AbstractSqlConnection[];
}

// The Kysely clients built here, on a dialect that hands out leases (see wire/connection-leases.ts).
const LEASING = new WeakSet<object>();

type Buildable = { createKyselyDialect: DialectFactory; createKysely(): void | Promise<void>; getClient(): object };

/**
 * Makes the primary and every replica connection of `driver` build their Kysely on a dialect whose
 * driver hands out a lease per acquire, dead once the connection is released: a transaction or
 * savepoint kept past its end cannot run on the connection's next user. Installed on the connection
 * objects (MikroORM keeps them across `orm.reconnect()`, which builds a new Kysely through the same
 * `createKysely`) before anything connects: from the extension `withRls` registers, which MikroORM runs
 * in its constructor. Each Kysely client built through the leasing dialect is recorded; one built
 * otherwise (a Kysely instance or dialect put into the options below withRls) is not, and scoped work
 * on it is refused.
 */
export function leaseConnectionsOf(driver: DriverConnections): void {
  for (const connection of [driver.getConnection('write'), ...driver.replicas]) {
    if (Object.prototype.hasOwnProperty.call(connection, 'createKyselyDialect')) continue;
    const own = connection as unknown as Buildable;
    const createDialect = own.createKyselyDialect.bind(connection);
    const createKysely = own.createKysely.bind(connection);
    let leased = false;
    Object.defineProperty(connection, 'createKyselyDialect', {
      configurable: true,
      value: (overrides?: unknown) => {
        const dialect = createDialect(overrides);
        leased = true;
        return dialect instanceof Promise ? dialect.then(leasingDialect) : leasingDialect(dialect);
      },
    });
    Object.defineProperty(connection, 'createKysely', {
      configurable: true,
      value: () => {
        leased = false;
        const record = () => {
          if (leased) LEASING.add(own.getClient());
        };
        const built = createKysely();
        return built instanceof Promise ? built.then(record) : record();
      },
    });
  }
}

/** The MikroORM extension that installs {@link leaseConnectionsOf} on the ORM's driver. */
export const CONNECTION_LEASES = {
  name: 'mikro-orm-rls-connection-leases',
  register(orm: { driver: DriverConnections }): void {
    leaseConnectionsOf(orm.driver);
  },
};

/** Refuses scoped work on a connection whose Kysely was built without leases (it connected before withRls's extension ran). */
export function assertLeasing(connection: AbstractSqlConnection): void {
  if (LEASING.has(connection.getClient())) return;
  throw new RlsConfigurationError(
    "mikro-orm-rls refuses to run scoped queries: this ORM's Kysely client was built without mikro-orm-rls's connection leases (which " +
      'keep a transaction that is over from running on the next user of its connection). It connected before the extension withRls() ' +
      'registers ran, or a Kysely instance or dialect was put into driverOptions below withRls() (orm.config.getAll()). Build the ORM ' +
      'from the options withRls() returns, and change options through orm.reconnect(options) or orm.config.set(...).',
  );
}

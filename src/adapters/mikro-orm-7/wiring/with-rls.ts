import { refuseSecondMikroOrmCopy } from './second-mikro-orm-copy';
import type { Configuration, Options } from '@mikro-orm/core';
import type { PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { ContextSchema } from '../../../core/context/context-schema';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { RlsSettings, type RlsOptions } from '../../../core/settings/rls-settings';
import { RlsEntityManager } from '../entity-manager/rls-entity-manager';
import { convertRlsViolations } from '../entity-manager/rls-violation-error';
import { assertMikroOrm7Internals } from '../internals';
import { rlsExtensions } from '../migrations/index';
import { guardedDriverOptions } from './pool-guard';
import { leasedOnReserveConnection, resetAfterOnCreateConnection } from './connection-hooks';
import { CONNECTION_LEASES } from './lease-guard';

type ContextOf<Schema> = Schema extends ContextSchema<infer Output> ? Output & object : Record<string, unknown>;

/**
 * Wires row-level security into MikroORM 7 options; the only call needed. The returned options install
 * {@link RlsEntityManager} (`forkWithRls`, `bypassRls`), install the pg client that carries each scope
 * in its statement's message and guards the connection pool (a connection a scoped fork left with
 * session state is reset or destroyed), make migrations and `orm.schema` write the policies, and turn
 * RLS refusals into {@link RlsViolationError}. The declarations are compiled once entities are
 * discovered, in `MikroORM.init`.
 *
 * @example
 * const orm = await MikroORM.init(withRls(config, { context: z.object({ account_id: z.number().int() }), bypassRole: 'app_bypass' }));
 * const em = orm.em.forkWithRls({ account_id: 42 });
 * await em.find(Item, {});
 * // One message: the scope, the query, then the session reset (reset role, ...):
 * // select pg_catalog.set_config('rls.account_id', '42', true); select "i0".* from "item" as "i0"; reset role; ...
 *
 * @throws {RlsConfigurationError} from `withRls` itself when `options.entityManager` is not
 * RlsEntityManager (or a subclass), `sessionContext` is `'connection'`, `driverOptions` is a Kysely
 * instance, dialect or function or names a pg `Client` of its own, or `prefix` or `bypassRole` is
 * malformed; from `MikroORM.init` when the context schema lacks a field the policies read.
 * @throws {RlsDeclarationError} from `MikroORM.init` when a declaration does not fit the entities.
 * @throws {RlsAdapterAssumptionError} when an internal of MikroORM, Kysely or pg that the adapter
 * relies on is not what it expects (checked once per process, when `withRls` runs).
 */
export function withRls<Schema extends ContextSchema | undefined = undefined>(
  options: Options<PostgreSqlDriver>,
  rls: RlsOptions<Schema> = {},
): Options<PostgreSqlDriver, RlsEntityManager<ContextOf<Schema>>> {
  // A second copy of MikroORM (a require hook's) first: the internals checks would blame its version.
  refuseSecondMikroOrmCopy((options as { driver?: unknown }).driver);
  // Before anything relies on them: the MikroORM, Kysely and pg internals this adapter builds on.
  assertMikroOrm7Internals();
  const entityManager = options.entityManager as unknown;
  if (entityManager && !(typeof entityManager === 'function' && entityManager.prototype instanceof RlsEntityManager) && entityManager !== RlsEntityManager) {
    throw new RlsConfigurationError(
      'withRls: options.entityManager must be RlsEntityManager or a subclass of it; extend RlsEntityManager instead of EntityManager.',
    );
  }
  refuseConnectionSessionContext((options as { sessionContext?: unknown }).sessionContext);
  const settings = new RlsSettings(rls);
  const userHook = options.discovery?.afterDiscovered;
  const userOnMetadata = options.discovery?.onMetadata;
  return {
    ...options,
    entityManager: (entityManager ?? RlsEntityManager) as never,
    rls: settings,
    driverOptions: guardedDriverOptions(options.driverOptions, 'the primary', settings) as never,
    ...(options.onCreateConnection !== undefined && { onCreateConnection: resetAfterOnCreateConnection(options.onCreateConnection, settings) as never }),
    ...((options as { onReserveConnection?: unknown }).onReserveConnection !== undefined && {
      onReserveConnection: leasedOnReserveConnection((options as { onReserveConnection?: unknown }).onReserveConnection) as never,
    }),
    ...(options.replicas !== undefined && { replicas: guardedReplicas(options.replicas, settings) }),
    // The connection leases first, before an extension of the user's could connect; the schema generator
    // and Migrator after the user's own extensions, under the same names, so the CLI and `orm.schema` /
    // `orm.migrator` use the policy-aware versions.
    extensions: [CONNECTION_LEASES, ...(options.extensions ?? []), ...rlsExtensions()] as never,
    discovery: {
      ...options.discovery,
      onMetadata: (meta, platform) => {
        settings.remember(meta as never);
        return userOnMetadata?.(meta, platform);
      },
      afterDiscovered: async (storage, platform) => {
        const config = platform.getConfig();
        guardOptionsSetLater(config);
        settings.compile(storage as never, config.get('schema') ?? platform.getDefaultSchemaName() ?? 'public');
        convertRlsViolations(platform);
        return userHook?.(storage, platform);
      },
    },
  } as Options<PostgreSqlDriver, RlsEntityManager<ContextOf<Schema>>>;
}

/**
 * MikroORM 7's `sessionContext: 'connection'` sets its session variables with `set_config(..., false)`,
 * at session level, on every pooled connection it hands out: the next user of the connection would
 * inherit them. This package's scope is transaction-local only.
 */
function refuseConnectionSessionContext(value: unknown): void {
  if (value === 'connection') {
    throw new RlsConfigurationError(
      "withRls: sessionContext: 'connection' sets session variables at session level on every pooled connection, which the next " +
        "user of the connection would inherit. mikro-orm-rls scopes every statement transaction-locally: leave sessionContext at its default ('transaction').",
    );
  }
}

/** Replicas with the pg client installed in their own `driverOptions` (MikroORM uses those instead of the primary's). */
function guardedReplicas<R extends { name?: string; driverOptions?: unknown; onCreateConnection?: unknown; onReserveConnection?: unknown }>(replicas: readonly R[], settings: RlsSettings): R[] {
  return replicas.map((replica) => ({
    ...replica,
    ...(replica.driverOptions !== undefined && { driverOptions: guardedDriverOptions(replica.driverOptions, `replica "${replica.name ?? '?'}"`, settings) }),
    ...(replica.onCreateConnection !== undefined && { onCreateConnection: resetAfterOnCreateConnection(replica.onCreateConnection, settings) }),
    ...(replica.onReserveConnection !== undefined && { onReserveConnection: leasedOnReserveConnection(replica.onReserveConnection) }),
  }));
}

/**
 * `orm.reconnect(options)` and `orm.config.set(...)` write options into the live configuration, from
 * which the next connect builds a new pool: those are guarded as they are set, as `withRls` guarded the
 * first ones (the instance's `set` shadows Configuration's own).
 */
function guardOptionsSetLater(config: Configuration): void {
  const set = config.set.bind(config) as (key: string, value: unknown) => void;
  const settings = config.get('rls' as never) as unknown as RlsSettings;
  Object.defineProperty(config, 'set', {
    configurable: true,
    value: (key: string, value: unknown) => {
      if (key === 'driverOptions') value = guardedDriverOptions(value, 'the primary', settings);
      if (key === 'replicas' && Array.isArray(value)) value = guardedReplicas(value, settings);
      if (key === 'onCreateConnection') value = resetAfterOnCreateConnection(value, settings);
      if (key === 'onReserveConnection') value = leasedOnReserveConnection(value);
      if (key === 'sessionContext') refuseConnectionSessionContext(value);
      set(key, value);
    },
  });
}

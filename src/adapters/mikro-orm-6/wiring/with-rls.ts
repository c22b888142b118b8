import type { Configuration, MikroORM, Options } from '@mikro-orm/core';
import type { PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { ContextSchema } from '../../../core/context/context-schema';
import { RlsSchemaGenerator } from '../migrations/rls-schema-generator';
import { RlsConfigurationError } from '../../../core/errors/rls-configuration-error';
import { RlsEntityManager } from '../entity-manager/rls-entity-manager';
import { guardedPool } from './pool-guard';
import { RlsSettings, type RlsOptions } from '../../../core/settings/rls-settings';
import { convertRlsViolations } from '../entity-manager/rls-violation-error';
import { assertAssumptions, assertMikroOrm6Internals, migrationFileAssumption, migratorAssumption } from '../internals';

/**
 * The policy-aware Migrator, when `@mikro-orm/migrations` is installed (it is an optional peer). Loaded
 * lazily so that applications without migrations never load it.
 */
function rlsMigrator(): { register(orm: MikroORM): void } | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { RlsMigrator } = require('../migrations/rls-migrator') as typeof import('../migrations/rls-migrator');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const migrations = require('@mikro-orm/migrations') as typeof import('@mikro-orm/migrations');
    assertAssumptions([migratorAssumption(Object.getPrototypeOf(RlsMigrator.prototype) as object), migrationFileAssumption(migrations)]);
    return RlsMigrator;
  } catch (error) {
    const missing = (error as { code?: string }).code === 'MODULE_NOT_FOUND' && /@mikro-orm\/migrations/.test((error as Error).message);
    if (missing) return undefined;
    throw error;
  }
}

type ContextOf<Schema> = Schema extends ContextSchema<infer Output> ? Output & object : Record<string, unknown>;

/**
 * Wires row-level security into MikroORM options; the only call needed. The returned options install
 * {@link RlsEntityManager} (`forkWithRls`, `bypassRls`), guard the connection pool (a connection a scoped
 * fork left with session state is reset or destroyed), make migrations and `orm.schema` write the
 * policies, and turn RLS refusals into {@link RlsViolationError}. The declarations are compiled once
 * entities are discovered, in `MikroORM.init`.
 *
 * @example
 * const orm = await MikroORM.init(withRls(config, { context: z.object({ account_id: z.number().int() }), bypassRole: 'app_bypass' }));
 * const em = orm.em.forkWithRls({ account_id: 42 });
 * await em.find(Item, {});
 * // One message: the scope, the query, then the session reset (reset role, ...):
 * // select pg_catalog.set_config('rls.account_id', '42', true); select "i0".* from "item" as "i0"; reset role; ...
 *
 * @throws {RlsConfigurationError} from `withRls` itself when `options.entityManager` is not
 * RlsEntityManager (or a subclass), `driverOptions` is a knex instance, or `prefix` or `bypassRole` is
 * malformed; from `MikroORM.init` when the context schema lacks a field the policies read.
 * @throws {RlsDeclarationError} from `MikroORM.init` when a declaration does not fit the entities
 * (an unknown column, two policies with one name, policies on a single-table-inheritance child, one
 * condition arg declared with two types).
 * @throws {RlsAdapterAssumptionError} when an internal of MikroORM, knex or pg that the adapter relies
 * on is not what it expects (checked once per process, when `withRls` runs).
 */
export function withRls<Schema extends ContextSchema | undefined = undefined>(
  options: Options<PostgreSqlDriver>,
  rls: RlsOptions<Schema> = {},
): Options<PostgreSqlDriver, RlsEntityManager<ContextOf<Schema>>> {
  // Before anything relies on them: the MikroORM, knex and pg internals this adapter builds on.
  assertMikroOrm6Internals();
  const entityManager = options.entityManager as unknown;
  if (entityManager && !(typeof entityManager === 'function' && entityManager.prototype instanceof RlsEntityManager) && entityManager !== RlsEntityManager) {
    throw new RlsConfigurationError(
      'withRls: options.entityManager must be RlsEntityManager or a subclass of it; extend RlsEntityManager instead of EntityManager.',
    );
  }
  const settings = new RlsSettings(rls);
  const userHook = options.discovery?.afterDiscovered;
  const userOnMetadata = options.discovery?.onMetadata;
  return {
    ...options,
    entityManager: (entityManager ?? RlsEntityManager) as never,
    rls: settings,
    pool: guardedPool(options.pool, settings),
    // MikroORM merges driverOptions (and each replica's) over `pool`: a `validate` given there would
    // replace the guard, so those pools are guarded too.
    ...(options.driverOptions !== undefined && { driverOptions: guardedDriverOptions(options.driverOptions, 'the primary', settings) }),
    ...(options.replicas !== undefined && { replicas: guardedReplicas(options.replicas, settings) }),
    // Registered after the user's own extensions and MikroORM's defaults, under the same names, so the
    // CLI and `orm.schema` / `orm.migrator` use the policy-aware versions.
    extensions: [...(options.extensions ?? []), RlsSchemaGenerator, ...[rlsMigrator()].filter((m) => m !== undefined)],
    discovery: {
      ...options.discovery,
      onMetadata: (meta, platform) => {
        settings.remember(meta);
        return userOnMetadata?.(meta, platform);
      },
      afterDiscovered: async (storage, platform) => {
        const config = platform.getConfig();
        guardPoolOptionsSetLater(config);
        settings.compile(storage, config.get('schema') ?? platform.getDefaultSchemaName() ?? 'public');
        convertRlsViolations(platform);
        return userHook?.(storage, platform);
      },
    },
  } as Options<PostgreSqlDriver, RlsEntityManager<ContextOf<Schema>>>;
}

/**
 * `driverOptions` with its `pool` guarded. A knex instance (MikroORM accepts one as driverOptions) has a
 * pool built outside MikroORM's options, where the guard cannot be installed: refused.
 */
function guardedDriverOptions<D>(driverOptions: D, owner: string, settings: RlsSettings): D {
  if (driverOptions === undefined || driverOptions === null) return driverOptions;
  const isKnexInstance = typeof driverOptions === 'function' || (typeof driverOptions === 'object' && 'client' in driverOptions && typeof (driverOptions as { client?: { acquireConnection?: unknown } }).client?.acquireConnection === 'function');
  if (isKnexInstance) {
    throw new RlsConfigurationError(
      `withRls: driverOptions of ${owner} is a knex instance. mikro-orm-rls installs a pool guard (it resets or destroys a connection ` +
        'that a scoped fork left with session state or inside a transaction) through the pool options, which a ready knex instance ' +
        'does not take. Give the connection through clientUrl (or host, user, ...) and the pool through `pool` instead.',
    );
  }
  const pool = (driverOptions as { pool?: Parameters<typeof guardedPool>[0] }).pool;
  return pool === undefined ? driverOptions : ({ ...driverOptions, pool: guardedPool(pool, settings) } as D);
}

/** Replicas with their own `driverOptions.pool` guarded (see {@link guardedDriverOptions}). */
function guardedReplicas<R extends { name?: string; driverOptions?: unknown }>(replicas: readonly R[], settings: RlsSettings): R[] {
  return replicas.map((replica) =>
    replica.driverOptions === undefined ? replica : { ...replica, driverOptions: guardedDriverOptions(replica.driverOptions, `replica "${replica.name ?? '?'}"`, settings) },
  );
}

/**
 * `orm.reconnect(options)` and `orm.config.set(...)` write pool options into the live configuration,
 * from which the next connect builds a new pool: those options are guarded as they are set, as
 * `withRls` guarded the first ones (the instance's `set` shadows Configuration's own).
 */
function guardPoolOptionsSetLater(config: Configuration): void {
  const set = config.set.bind(config) as (key: string, value: unknown) => void;
  const settings = config.get('rls') as RlsSettings;
  Object.defineProperty(config, 'set', {
    configurable: true,
    value: (key: string, value: unknown) => {
      if (key === 'pool') value = guardedPool(value as Parameters<typeof guardedPool>[0], settings);
      if (key === 'driverOptions') value = guardedDriverOptions(value, 'the primary', settings);
      if (key === 'replicas' && Array.isArray(value)) value = guardedReplicas(value, settings);
      set(key, value);
    },
  });
}

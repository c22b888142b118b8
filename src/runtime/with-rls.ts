import type { Configuration, MikroORM, Options } from '@mikro-orm/core';
import type { AbstractSqlDriver } from '@mikro-orm/knex';
import type { PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { ContextSchema } from '../context/context-schema';
import { RlsSchemaGenerator } from '../migrations/rls-schema-generator';
import { RlsConfigurationError } from './rls-configuration-error';
import { RlsEntityManager } from './rls-entity-manager';
import { guardedPool } from './pool-guard';
import { RlsSettings, type RlsOptions } from './rls-settings';
import { convertRlsViolations } from './rls-violation-error';

/**
 * The policy-aware Migrator, when `@mikro-orm/migrations` is installed (it is an optional peer). Loaded
 * lazily so that applications without migrations never load it.
 */
function rlsMigrator(): { register(orm: MikroORM): void } | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../migrations/rls-migrator') as typeof import('../migrations/rls-migrator')).RlsMigrator;
  } catch (error) {
    const missing = (error as { code?: string }).code === 'MODULE_NOT_FOUND' && /@mikro-orm\/migrations/.test((error as Error).message);
    if (missing) return undefined;
    throw error;
  }
}

/** `strict`: the role the ORM connects as must be subject to RLS, or the ORM does not start. */
async function refuseBypassingRole(config: Configuration): Promise<void> {
  const connection = (config.getDriver() as unknown as AbstractSqlDriver).getConnection('write');
  // Raw knex: this runs during discovery, before MikroORM has set up its connection. The pool made for
  // the check is closed right after; MikroORM connects afresh (or nobody would ever close this one).
  const knex = connection.getKnex();
  const { rows } = await knex.raw('select rolname as name, rolsuper as superuser, rolbypassrls as bypass from pg_roles where rolname = current_user').finally(() => connection.close(true));
  const role = rows[0] as { name: string; superuser: boolean; bypass: boolean } | undefined;
  if (role?.superuser || role?.bypass) {
    throw new RlsConfigurationError(
      `withRls strict mode: the ORM connects as "${role.name}", which ${role.superuser ? 'is a superuser' : 'has BYPASSRLS'}, so ` +
        'row-level security would not apply to it. Connect as a NOSUPERUSER NOBYPASSRLS role (see the README\'s security model).',
    );
  }
}

type ContextOf<Schema> = Schema extends ContextSchema<infer Output> ? Output & object : Record<string, unknown>;

/**
 * Wires row-level security into MikroORM options; the only call needed.
 *
 * @example
 * const orm = await MikroORM.init(withRls(config, { context: z.object({ account_id: z.number().int() }) }));
 * const em = orm.em.forkWithRls({ account_id: 42 });
 */
export function withRls<Schema extends ContextSchema | undefined = undefined>(
  options: Options<PostgreSqlDriver>,
  rls: RlsOptions<Schema> = {},
): Options<PostgreSqlDriver, RlsEntityManager<ContextOf<Schema>>> {
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
    pool: guardedPool(options.pool),
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
        settings.compile(storage, config.get('schema') ?? platform.getDefaultSchemaName() ?? 'public');
        convertRlsViolations(platform);
        if (settings.strict) await refuseBypassingRole(config);
        return userHook?.(storage, platform);
      },
    },
  } as Options<PostgreSqlDriver, RlsEntityManager<ContextOf<Schema>>>;
}

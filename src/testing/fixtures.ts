import { MikroORM, type EntityManager, type Options } from '@mikro-orm/core';
import { quoteIdent } from '../core/ddl/quote';
import { RlsConfigurationError } from '../core/errors/rls-configuration-error';
import { rlsSettingsOf } from '../core/settings/rls-settings';

/**
 * Seeds rows of several tenants at once as the tables' owner, whose ORM is subject to the policies
 * under FORCE ROW LEVEL SECURITY: in one transaction, FORCE is lifted from the tables the current role
 * owns, `seed` runs and is flushed, and FORCE is put back before the commit (a failure rolls back both).
 * Returns what `seed` returns, flushed (generated ids set).
 *
 * @example
 * const { mine, theirs } = await seedAsOwner(ownerOrm, (em) => ({
 *   mine: em.create(Item, { title: 'mine', account: 1 }),
 *   theirs: em.create(Item, { title: 'theirs', account: 2 }),
 * }));
 *
 * @throws {RlsConfigurationError} when the ORM's role does not own the forced tables it must seed.
 */
export async function seedAsOwner<T>(ownerOrm: { readonly em: EntityManager }, seed: (em: EntityManager) => T | Promise<T>): Promise<T> {
  return ownerOrm.em.fork().transactional(async (em) => {
    // On the transaction's connection: the FORCE changes must commit or roll back with the rows.
    const run = (sql: string) => em.getConnection().execute(sql, [], 'all', em.getTransactionContext());
    const forced: { schema: string; name: string }[] = await run(
      `select n.nspname as schema, c.relname as name from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       where c.relforcerowsecurity and pg_catalog.pg_has_role(c.relowner, 'usage') order by 1, 2`,
    ) as never;
    const tables = forced.map((t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
    for (const table of tables) await run(`alter table ${table} no force row level security`);
    const result = await seed(em);
    try {
      await em.flush();
    } catch (error) {
      if (/row-level security/.test((error as Error).message)) {
        throw new RlsConfigurationError(
          `seedAsOwner: row-level security refused the seed (${(error as Error).message}). Pass the ORM of the tables' owner (not the application role's).`,
        );
      }
      throw error;
    }
    for (const table of tables) await run(`alter table ${table} force row level security`);
    return result;
  });
}

/**
 * The ORM of the application's options (already wrapped with `withRls`) connected as `clientUrl`, after
 * checking that the role is one the policies apply to: not a superuser, not BYPASSRLS. Checks as any
 * other role prove nothing. Close it when done (`orm.close()`). `Orm` is the type to give it (your
 * driver's `MikroORM`), inferred from where the result goes.
 *
 * @example
 * const orm = await initAppOrm(withRls(config, { bypassRole: 'app_bypass' }), process.env.APP_DATABASE_URL!);
 *
 * @throws {RlsConfigurationError} when the options lack withRls, or the role bypasses row-level security.
 */
export async function initAppOrm<Orm extends MikroORM = MikroORM>(options: object, clientUrl: string): Promise<Orm> {
  const orm = (await MikroORM.init({ ...options, clientUrl } as Options)) as Orm;
  try {
    rlsSettingsOf(orm.config);
    const [role] = await orm.em.fork().getConnection().execute<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean }[]>(
      'select rolname, rolsuper, rolbypassrls from pg_catalog.pg_roles where rolname = current_user',
    );
    if (role.rolsuper || role.rolbypassrls) {
      throw new RlsConfigurationError(
        `initAppOrm: "${role.rolname}" is a ${role.rolsuper ? 'superuser' : 'BYPASSRLS role'}, which row-level security never restricts, so policy checks as it prove nothing. ` +
          'Connect as the application role (NOSUPERUSER, NOBYPASSRLS, owning no table).',
      );
    }
    return orm;
  } catch (error) {
    await orm.close(true);
    throw error;
  }
}

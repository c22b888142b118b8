import type { MikroORM } from '@mikro-orm/core';
import type { RlsOperation } from '../../../core/diff/operation';
import { applyDeclaredState, chunksAtOnceFor, type ApplyOptions } from '../../../core/plan/apply-declared-state';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';
import { inOrmTransaction } from './in-orm-transaction';

// As many transactions at once as the pool can serve side by side (a pool of one runs them one by one).
const applyOptionsOf = (orm: MikroORM): ApplyOptions => ({ chunksAtOnce: chunksAtOnceFor(orm.config.get('pool')?.max) });

/**
 * Brings the database's policies and RLS flags to the declared state, without migrations (MikroORM 7).
 * Idempotent: a second run returns no operations. Policies it did not create are left alone. Must run as
 * the tables' owner (or a superuser), not as the application role. Every partition of a table gets the
 * table's flags and policies as well. Any number of tables: in transactions of whole tables (with their
 * partitions) that together lock no more than a quarter of the server's lock table, two at a time on two
 * connections of the pool, one message each.
 *
 * @returns the operations it performed.
 *
 * @example
 * // As the tables' owner, after orm.schema.create(), for the Item entity of the Rls example:
 * const operations = await createPolicies(orm);
 * operations.map((op) => op.description); // ['enable row level security', 'force row level security', 'create policy item_permissive_1_all']
 * // alter table "public"."item" enable row level security
 * // alter table "public"."item" force row level security
 * // create policy "item_permissive_1_all" on "public"."item" as permissive for all to public using (...) with check (...)
 * // comment on policy "item_permissive_1_all" on "public"."item" is 'managed by mikro-orm-rls'
 *
 * @throws {RlsConfigurationError} when a table does not exist yet, a policy not created by this
 * package already has a declared policy's name, or the ORM was not set up with `withRls` (nothing is
 * changed then); when the role may not create policies (not the owner), or PostgreSQL refuses a
 * statement for another reason.
 * @throws {RlsDeclarationError} when PostgreSQL rejects a rendered policy. Either way its transaction
 * is rolled back, no further one starts, the ones that committed stay applied, and running again does
 * what is still missing.
 */
export async function createPolicies(orm: MikroORM): Promise<RlsOperation[]> {
  const settings = rlsSettingsOf(orm.config);
  return applyDeclaredState((work) => inOrmTransaction(orm.em, work), {
    desired: settings.tables,
    entityTables: settings.entityTables,
    manageAllPolicies: settings.manageAllPolicies,
  }, applyOptionsOf(orm));
}

/**
 * Drops every policy this package created on the entities' tables and their partitions and switches RLS
 * off there, unless hand-written policies remain on a table. As the owner, in transactions sized like
 * createPolicies' (MikroORM 7).
 *
 * @returns the operations it performed.
 *
 * @example
 * await dropPolicies(orm);
 * // drop policy "item_permissive_1_all" on "public"."item"
 * // alter table "public"."item" disable row level security
 * // alter table "public"."item" no force row level security
 *
 * @throws {RlsConfigurationError} when the ORM was not set up with `withRls`, or PostgreSQL refuses a statement.
 */
export async function dropPolicies(orm: MikroORM): Promise<RlsOperation[]> {
  const settings = rlsSettingsOf(orm.config);
  return applyDeclaredState((work) => inOrmTransaction(orm.em, work), { desired: [], entityTables: settings.entityTables, manageAllPolicies: settings.manageAllPolicies }, applyOptionsOf(orm));
}

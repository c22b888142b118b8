import type { Policy } from '../policy/policy';
import type { RlsEntityOptions } from './rls-entity-options';
import { RlsDeclarationError } from '../errors/rls-declaration-error';

// Keyed by class, not stored on metadata: MikroORM's metadata cache serialises metadata to JSON and
// would lose the policies' expressions, while this registry lives as long as the classes do.
const declared = new WeakMap<object, RlsEntityOptions>();

/**
 * Declares row-level security policies on a decorator-based entity (or an abstract base class: entities
 * that extend it inherit them). Takes {@link RlsEntityOptions} or the array of policies alone.
 * `defineEntity` and `EntitySchema` entities declare the same options as `rls` instead.
 *
 * @example
 * const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
 *
 * \@Rls({ policies: [Permissive({ conditionArgs: [accountId], cmd: Command.all, customExpr: (id) => sql`${column('owner_id')} = ${id}` })] })
 * \@Entity()
 * class Item {
 *   \@PrimaryKey() id!: number;
 *   \@Property() ownerId!: number;
 * }
 * // createPolicies(orm), or the migration, then runs:
 * // alter table "public"."item" enable row level security
 * // alter table "public"."item" force row level security
 * // create policy "item_permissive_1_all" on "public"."item" as permissive for all to public using ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer)) with check ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer))
 * // comment on policy "item_permissive_1_all" on "public"."item" is 'managed by mikro-orm-rls'
 *
 * @throws {RlsDeclarationError} when given neither an array of policies nor `{ policies: [...] }`.
 */
export function Rls(options: RlsEntityOptions | readonly Policy[]) {
  const normalized: RlsEntityOptions = Array.isArray(options) ? { policies: options as readonly Policy[] } : (options as RlsEntityOptions);
  if (!normalized || !Array.isArray(normalized.policies)) {
    throw new RlsDeclarationError('@Rls() takes { policies: [...] } or an array of policies.');
  }
  return (target: abstract new (...args: never[]) => unknown): void => {
    declared.set(target, normalized);
  };
}

/** The options declared with {@link Rls} on exactly this class (not its parents). */
export function declaredOnClass(target: unknown): RlsEntityOptions | undefined {
  return typeof target === 'function' ? declared.get(target) : undefined;
}

import type { Collection } from '@mikro-orm/core';
import type { Policy } from '../policy/policy';

/** The names of an entity's collection properties (where m:n relations live). */
type CollectionKeys<T> = { [K in keyof T]-?: NonNullable<T[K]> extends Collection<any, any> ? K : never }[keyof T] & string;

/**
 * Per m:n relation of the entity: `false` leaves that relation's pivot table without the policies this
 * package generates for it. Keys are the entity's m:n property names (checked at start-up as well, since
 * decorators cannot type-check them).
 */
export type PivotTableOptions<T> = unknown extends T
  ? Readonly<Record<string, boolean>>
  : { readonly [K in CollectionKeys<T>]?: boolean };

/**
 * What an entity declares about row-level security: given to {@link Rls}, or as `rls` to `defineEntity`
 * and `new EntitySchema`.
 *
 * @example
 * const rls: RlsEntityOptions = { policies: [tenant], force: true, pivotTables: { tags: false } };
 * const Article = new EntitySchema({ name: 'Article', properties: { id: { type: 'number', primary: true } }, rls });
 */
export interface RlsEntityOptions<T = any> {
  /** The entity's policies. An empty list still enables RLS: nobody sees any row (deny by default). */
  readonly policies: readonly Policy[];
  /**
   * `FORCE ROW LEVEL SECURITY`, so the table owner is subject to the policies as well. Default `true`;
   * set `false` only when the application must connect as the owner and you accept that it bypasses RLS.
   */
  readonly force?: boolean;
  /**
   * The pivot table of every m:n relation between RLS entities gets a policy by default: a link is
   * visible and writable only when the rows it joins are visible in the same scope. `{ tags: false }`
   * opts the `tags` relation out (its pivot table then has no RLS unless its pivot entity declares some).
   *
   * @example
   * rls: { policies: [tenant], pivotTables: { tags: false } }
   */
  readonly pivotTables?: PivotTableOptions<T>;
}

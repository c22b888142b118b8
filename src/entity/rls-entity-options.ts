import type { Policy } from '../policy/policy';

/** What an entity declares about row-level security. */
export interface RlsEntityOptions {
  /** The entity's policies. An empty list still enables RLS: nobody sees any row (deny by default). */
  readonly policies: readonly Policy[];
  /**
   * `FORCE ROW LEVEL SECURITY`, so the table owner is subject to the policies as well. Default `true`;
   * set `false` only when the application must connect as the owner and you accept that it bypasses RLS.
   */
  readonly force?: boolean;
}

declare module '@mikro-orm/core' {
  // Lets `defineEntity({ ..., rls })` and `new EntitySchema({ ..., rls })` type-check.
  interface EntityMetadata<T> {
    rls?: RlsEntityOptions;
  }
}

import type { RlsEntityOptions } from '../../core/entity/rls-entity-options';

// Lets `defineEntity({ ..., rls })` and `new EntitySchema({ ..., rls })` type-check on MikroORM 6. Per
// adapter, because the augmented interface must repeat the major's own type parameters (one on 6).
declare module '@mikro-orm/core' {
  interface EntityMetadata<T> {
    rls?: RlsEntityOptions<T>;
  }
}

import type { RlsEntityOptions } from '../../core/entity/rls-entity-options';

// Lets `defineEntity({ ..., rls })` and `new EntitySchema({ ..., rls })` type-check on MikroORM 7. Per
// adapter, because the augmented interface must repeat the major's own type parameters (two on 7).
declare module '@mikro-orm/core' {
  interface EntityMetadata<Entity, Class> {
    rls?: RlsEntityOptions<Entity>;
  }
}

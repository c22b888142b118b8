import type { RlsEntityOptions } from './rls-entity-options';

/** The entity type of a metadata type: `prototype` is the entity on MikroORM 6 and 7 alike. */
type EntityOfMetadata<Metadata> = Metadata extends { prototype: infer Entity } ? Entity : any;

// Lets `defineEntity({ ..., rls })` and `new EntitySchema({ ..., rls })` type-check, on MikroORM 6 and 7
// with one declaration. Declarations of an interface must repeat its type parameters, and the majors
// differ (`<T>` on 6, `<Entity, Class extends EntityCtor<Entity>>` on 7), but TypeScript accepts a
// declaration with fewer of them when the rest have defaults, which all of them do: declaring none
// merges on both, and `this` (the metadata type the property is read from, `EntityMetadata<Entity>`)
// gives back the entity for the typed `pivotTables` keys. With any type parameter, one major's
// projects would get TS2428 unless they set skipLibCheck (scripts/consumer-test*.mjs check both).
declare module '@mikro-orm/core' {
  interface EntityMetadata {
    rls?: RlsEntityOptions<EntityOfMetadata<this>>;
  }
}

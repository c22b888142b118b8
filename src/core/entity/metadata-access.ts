import type { EntityMetadata, EntityProperty, MetadataStorage } from '@mikro-orm/core';
import type { RlsEntityOptions } from './rls-entity-options';

// The few places where MikroORM 6 and 7 shape the same metadata differently. The core reads them here,
// structurally, so that it type-checks and behaves the same against both majors.

/** Every entity's metadata: MikroORM 6's `getAll()` is a record by class name, MikroORM 7's a Map. */
export function allMetadata(storage: MetadataStorage): EntityMetadata[] {
  const all = storage.getAll() as unknown;
  return all instanceof Map ? [...(all.values() as Iterable<EntityMetadata>)] : Object.values(all as Record<string, EntityMetadata>);
}

/** The entity's own `rls` declaration (defineEntity / EntitySchema option). */
export function rlsOptionsOf(meta: EntityMetadata): RlsEntityOptions | undefined {
  return (meta as unknown as { rls?: RlsEntityOptions }).rls;
}

/**
 * The class name of what `meta.extends` names: a class name on MikroORM 6; on MikroORM 7 it may be the
 * class itself or its EntitySchema as well.
 */
export function parentClassName(meta: EntityMetadata): string | undefined {
  const parent = (meta as unknown as { extends?: unknown }).extends;
  if (typeof parent === 'string') return parent;
  if (typeof parent === 'function') return parent.name;
  const schemaMeta = (parent as { meta?: { className?: unknown } } | undefined)?.meta;
  return typeof schemaMeta?.className === 'string' ? schemaMeta.className : undefined;
}

/** Whether an m:n property writes the pivot table of `pivot`: its `pivotEntity` is the class name on 6, the class on 7. */
export function writesPivot(prop: EntityProperty, pivot: EntityMetadata): boolean {
  const target = (prop as unknown as { pivotEntity?: unknown }).pivotEntity;
  return target === pivot.className || (target !== undefined && target === pivot.class) || (typeof target === 'function' && target.name === pivot.className);
}

/** The metadata of an m:n property's target entity. */
export function targetOf(prop: EntityProperty, all: readonly EntityMetadata[]): EntityMetadata | undefined {
  const type = (prop as unknown as { type?: unknown }).type;
  const name = typeof type === 'string' ? type : typeof type === 'function' ? type.name : undefined;
  return (prop as unknown as { targetMeta?: EntityMetadata }).targetMeta ?? all.find((m) => m.className === name);
}

/** Properties of an entity, as a list (the record's value type differs between majors). */
export function propertiesOf(meta: EntityMetadata): EntityProperty[] {
  return Object.values((meta.properties ?? {}) as Record<string, EntityProperty>);
}

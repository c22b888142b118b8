import type { EntityManager } from '@mikro-orm/core';

/**
 * The brand every adapter's RLS entity manager carries, so that code above the adapters (the sessioner,
 * the framework integrations) can recognise one without importing a MikroORM major's class.
 * `Symbol.for`, so that two copies of this package in one process still recognise each other's managers.
 */
export const RLS_ENTITY_MANAGER: unique symbol = Symbol.for('mikro-orm-rls.entity-manager') as never;

/**
 * What an RLS entity manager offers on every MikroORM major: MikroORM's `EntityManager` plus scoped
 * forks and bypass. The sessioner and the integrations use only this.
 */
export interface RlsEntityManagerLike<Context extends object = Record<string, unknown>> extends EntityManager {
  readonly [RLS_ENTITY_MANAGER]: true;
  forkWithRls(context: Context): this;
  bypassRls(): this;
  readonly rlsContext: Readonly<Context> | undefined;
  readonly isRlsBypassed: boolean;
}

/** Whether `value` is an entity manager of an ORM initialised with `withRls(...)`. */
export function isRlsEntityManager(value: unknown): value is RlsEntityManagerLike<object> {
  return typeof value === 'object' && value !== null && (value as { [RLS_ENTITY_MANAGER]?: unknown })[RLS_ENTITY_MANAGER] === true;
}

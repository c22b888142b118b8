import { RlsConfigurationError } from '../errors/rls-configuration-error';

/**
 * What the layers above the adapters need from the adapter of the MikroORM major in use. Today that is
 * only the entity manager class, which the NestJS module provides under its own name (a class is the
 * natural injection token there, and it differs per major).
 */
export interface RlsAdapter {
  /** The major this adapter serves, e.g. 6. */
  readonly major: number;
  /** The adapter's entity manager class (`RlsEntityManager`). */
  readonly entityManagerClass: abstract new (...args: never[]) => object;
  /**
   * Entity manager classes applications inject that `@mikro-orm/nestjs` of this major no longer
   * provides once the ORM's manager is `RlsEntityManager`: on MikroORM 7 it provides `em.constructor`
   * instead of the driver package's `EntityManager`, which MikroORM 6's provides. The NestJS module
   * provides each as MikroORM's manager, so services keep their injection tokens across the upgrade.
   */
  readonly unprovidedEntityManagerClasses?: readonly (abstract new (...args: never[]) => object)[];
}

let active: RlsAdapter | undefined;

/** Called once by the adapter's entry point when it is loaded. */
export function registerRlsAdapter(adapter: RlsAdapter): void {
  if (active && active.entityManagerClass !== adapter.entityManagerClass) {
    throw new RlsConfigurationError(
      `Two adapters of mikro-orm-rls are loaded in one process (for MikroORM ${active.major} and ${adapter.major}). ` +
        'Install one copy of mikro-orm-rls, matching the MikroORM major of the application (npm ls mikro-orm-rls shows where each comes from).',
    );
  }
  active = adapter;
}

/** The adapter loaded in this process. */
export function activeRlsAdapter(): RlsAdapter {
  if (!active) {
    throw new RlsConfigurationError("No mikro-orm-rls adapter is loaded: import { withRls } from 'mikro-orm-rls' before using an integration.");
  }
  return active;
}

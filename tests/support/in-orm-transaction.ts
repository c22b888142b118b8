import type { EntityManager } from '@mikro-orm/core';
import { installedMikroOrmVersion } from '../../src/adapters/installed-adapter';
import type { Queryable } from '../../src/core/catalog/queryable';

type InOrmTransaction = <T>(em: EntityManager, work: (db: Queryable) => Promise<T>) => Promise<T>;

/**
 * The installed MikroORM major's adapter helper that runs `work` in a transaction of the ORM's own
 * connection (what createPolicies uses), for tests and the bench that call the core with it. Required,
 * not imported: the MikroORM 7 adapter does not type-check against the MikroORM 6 types these files are
 * checked with.
 */
export const inOrmTransaction: InOrmTransaction = (em, work) => {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const adapter =
    installedMikroOrmVersion().startsWith('6.')
      ? (require('../../src/adapters/mikro-orm-6/policies/in-orm-transaction') as { inOrmTransaction: InOrmTransaction })
      : (require('../../src/adapters/mikro-orm-7/policies/in-orm-transaction') as { inOrmTransaction: InOrmTransaction });
  /* eslint-enable @typescript-eslint/no-require-imports */
  return adapter.inOrmTransaction(em, work);
};

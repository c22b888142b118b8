import type { EntityManager } from '@mikro-orm/core';
import type { AbstractSqlDriver } from '@mikro-orm/sql';
import type { Queryable } from '../../../core/catalog/queryable';
import { kyselyQueryable, type KyselyExecutor } from './kysely-queryable';

/**
 * Runs `work` in one transaction of the ORM's own (unscoped) write connection: the connection migrations,
 * `createPolicies` and the audit use. `orm.em` is the global manager, whose driver is never a scoped one.
 */
export function inOrmTransaction<T>(em: EntityManager, work: (db: Queryable) => Promise<T>): Promise<T> {
  const driver = em.getDriver() as unknown as AbstractSqlDriver;
  return driver.getConnection('write').transactional((trx) => work(kyselyQueryable(trx as unknown as KyselyExecutor)));
}

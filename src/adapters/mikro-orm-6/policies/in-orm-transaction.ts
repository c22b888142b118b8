import type { EntityManager } from '@mikro-orm/core';
import type { AbstractSqlDriver } from '@mikro-orm/knex';
import type { Queryable } from '../../../core/catalog/queryable';
import { baseDriver } from '../wire/scoped-driver';
import { knexQueryable } from './knex-queryable';

/**
 * Runs `work` in one transaction of the ORM's own (unscoped) write connection: the connection
 * `createPolicies` and the audit use. The base driver, so that a scoped fork's manager passed in by
 * mistake still runs as the ORM itself.
 */
export function inOrmTransaction<T>(em: EntityManager, work: (db: Queryable) => Promise<T>): Promise<T> {
  const driver = baseDriver(em.getDriver() as unknown as AbstractSqlDriver);
  return driver.getConnection('write').transactional((trx) => work(knexQueryable(trx)));
}

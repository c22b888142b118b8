import type { AbstractSqlConnection, AbstractSqlDriver } from '@mikro-orm/knex';
import { hiddenConflictChecks } from '../../../core/writes/hidden-conflicts';
import type { WritingDriver } from '../../../core/writes/writing-driver';
import { invisibleRowError } from '../entity-manager/rls-violation-error';
import { scopeConnection } from './scoped-connection';
import type { RlsScope } from '../../../core/scope/rls-scope';

const BASE = Symbol('mikro-orm-rls base driver');
const SCOPE = Symbol('mikro-orm-rls scope');

/**
 * A view of the ORM's driver whose connections (primary and read replicas) are scoped. Everything else
 * (metadata, platform, caches) is the shared driver's, reached through the prototype.
 *
 * The EntityManager hands its driver to every fork, to its EntityLoader, UnitOfWork and QueryBuilders,
 * so a fork built on this view scopes every query it makes, including lazy loads and pivot loads.
 */
export function scopeDriver<D extends AbstractSqlDriver>(driver: D, scope: RlsScope): D {
  const base = baseDriver(driver);
  const view = Object.create(base) as D;
  const replicas = (base as unknown as { replicas: AbstractSqlConnection[] }).replicas.map((r) => scopeConnection(r, scope));
  Object.defineProperties(view, {
    [BASE]: { value: base },
    [SCOPE]: { value: scope },
    connection: { value: scopeConnection(base.getConnection('write'), scope) },
    replicas: { value: replicas },
    ...hiddenConflictChecks(base as unknown as WritingDriver, invisibleRowError),
  });
  return view;
}

export function baseDriver<D extends AbstractSqlDriver>(driver: D): D {
  return ((driver as unknown as Record<symbol, D>)[BASE] ?? driver) as D;
}

/** The scope a driver view applies, if any. */
export function scopeOf(driver: AbstractSqlDriver): RlsScope | undefined {
  return (driver as unknown as Record<symbol, RlsScope | undefined>)[SCOPE];
}

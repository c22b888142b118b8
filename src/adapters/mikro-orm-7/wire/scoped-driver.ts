import type { AbstractSqlConnection, AbstractSqlDriver } from '@mikro-orm/sql';
import { scopeStatement, type RlsScope } from '../../../core/scope/rls-scope';
import { sessionResetOf } from '../../../core/settings/session-reset-of';
import { hiddenConflictChecks } from '../../../core/writes/hidden-conflicts';
import type { WritingDriver } from '../../../core/writes/writing-driver';
import { invisibleRowError } from '../entity-manager/rls-violation-error';
import { scopeConnection } from './scoped-connection';

const BASE = Symbol('mikro-orm-rls base driver');
const SCOPE = Symbol('mikro-orm-rls scope');

/**
 * A view of the ORM's driver whose connections (primary and read replicas) are scoped. Everything else
 * (metadata, platform, caches) is the shared driver's, reached through the prototype: MikroORM 7's
 * drivers keep no #private state, so a prototype view works (see internals.ts).
 *
 * The EntityManager hands its driver to every fork, to its EntityLoader, UnitOfWork and QueryBuilders,
 * so a fork built on this view scopes every query it makes, including lazy loads and pivot loads.
 */
export function scopeDriver<D extends AbstractSqlDriver>(driver: D, scope: RlsScope): D {
  const base = baseDriver(driver);
  const view = Object.create(base) as D;
  const { connection, replicas } = connectionViews(base, scope);
  Object.defineProperties(view, {
    [BASE]: { value: base },
    [SCOPE]: { value: scope },
    connection: { value: connection },
    replicas: { value: replicas },
    ...hiddenConflictChecks(base as unknown as WritingDriver, invisibleRowError),
  });
  return view;
}

interface ConnectionViews {
  readonly connection: AbstractSqlConnection;
  readonly replicas: readonly AbstractSqlConnection[];
}

// Connection views hold no state of a fork's: the scope's statement and the shared connection. A fork per
// request is the common case, and requests of one tenant repeat its scope, so the views of the most
// recent scopes are kept, per shared driver, by the exact statement they send (the same statement is the
// same scope on the wire). A driver's connections replaced (a reconnect), or its session reset (discovery
// compiled declarations with other context variables), start a new set.
const VIEWS_PER_DRIVER = 1_000;
interface ViewCache {
  readonly primary: AbstractSqlConnection;
  readonly replicas: readonly AbstractSqlConnection[];
  readonly reset: object;
  readonly byStatement: Map<string, ConnectionViews>;
}
const VIEWS = new WeakMap<AbstractSqlDriver, ViewCache>();

function connectionViews(base: AbstractSqlDriver, scope: RlsScope): ConnectionViews {
  const primary = base.getConnection('write') as AbstractSqlConnection;
  const replicas = (base as unknown as { replicas: AbstractSqlConnection[] }).replicas;
  const reset = sessionResetOf((base as unknown as { config: { get(key: string): unknown } }).config.get('rls'));
  let cache = VIEWS.get(base);
  if (!cache || cache.primary !== primary || cache.replicas !== replicas || cache.reset !== reset) {
    VIEWS.set(base, (cache = { primary, replicas, reset, byStatement: new Map() }));
  }
  const statement = scopeStatement(scope);
  const key = statement ? JSON.stringify([statement.sql, statement.params]) : '';
  let views = cache.byStatement.get(key);
  if (!views) {
    views = { connection: scopeConnection(primary, scope), replicas: replicas.map((r) => scopeConnection(r, scope)) };
    if (cache.byStatement.size >= VIEWS_PER_DRIVER) cache.byStatement.delete(cache.byStatement.keys().next().value!);
    cache.byStatement.set(key, views);
  }
  return views;
}

export function baseDriver<D extends AbstractSqlDriver>(driver: D): D {
  return ((driver as unknown as Record<symbol, D>)[BASE] ?? driver) as D;
}

/** The scope a driver view applies, if any. */
export function scopeOf(driver: AbstractSqlDriver): RlsScope | undefined {
  return (driver as unknown as Record<symbol, RlsScope | undefined>)[SCOPE];
}

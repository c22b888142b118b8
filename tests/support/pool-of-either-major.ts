import type { MikroORM, Options } from '@mikro-orm/core';
import type { PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { Client } from 'pg';
import { mikroOrmTreeOfThisRun } from './mikro-orm-tree';

// The pool and connection options, and the pool's state, under the names of the installed major: on
// MikroORM 6 the pool is knex's (tarn), configured through `pool` and `driverOptions.connection`; on
// MikroORM 7 it is a pg Pool, built from the connection options with `driverOptions` merged over them
// (pg Client and pg-pool options side by side). The tests say what they need; these say how.

const onV7 = mikroOrmTreeOfThisRun() === 'v7';

type Extra = Partial<Options<PostgreSqlDriver>>;

/** Options of either part merged: `pool` and `driverOptions` key by key, the rest replaced. */
export function mergeOptions(...parts: Extra[]): Extra {
  const merged: Record<string, unknown> = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      merged[key] = key === 'pool' || key === 'driverOptions' ? { ...(merged[key] as object), ...(value as object) } : value;
    }
  }
  return merged as Extra;
}

/** pg Client parameters of every pooled connection (`query_timeout`, `options`, `statement_timeout`, `application_name`, ...). */
export function connectionParams(params: Record<string, unknown>): Extra {
  return { driverOptions: (onV7 ? params : { connection: params }) as never };
}

/** How long a request waits for a pooled connection before it fails (see {@link ACQUIRE_TIMEOUT}). */
export function acquireTimeout(ms: number): Extra {
  return { driverOptions: (onV7 ? { connectionTimeoutMillis: ms } : { acquireConnectionTimeout: ms }) as never };
}

/** The error of a request that waited longer than {@link acquireTimeout}. */
export const ACQUIRE_TIMEOUT = onV7 ? /timeout exceeded when trying to connect|Connection terminated due to connection timeout/ : /Timeout acquiring a connection/;

/**
 * The smallest {@link acquireTimeout} a pool can still serve with: pg-pool's also bounds making a new
 * connection (which it abandons when the time is up), knex's only the wait (the connection it is making
 * goes to the pool for the next request).
 */
export const tinyAcquireTimeout = (ms: number): number => (onV7 ? Math.max(ms, 50) : ms);

/**
 * A hook the application runs on every new connection before the pool hands it out: knex's
 * `pool.afterCreate` on MikroORM 6, pg-pool's `onConnect` on MikroORM 7. Its failure fails the acquire.
 */
export function onNewConnection(hook: (client: Client) => Promise<unknown>, pool: { min?: number; max?: number } = { min: 0, max: 1 }): Extra {
  if (onV7) return { pool, driverOptions: { onConnect: hook } as never };
  const afterCreate = (client: Client, done: (error: Error | null, client: Client) => void) =>
    hook(client).then(
      () => done(null, client),
      (error: Error) => done(error, client),
    );
  return { pool: { ...pool, afterCreate } as never };
}

/** Connection warnings of the pool (a dead connection found, ...) go to `warn` instead of the console. */
export function poolWarnings(warn: (message: string) => void): Extra {
  // MikroORM 7 logs them through its own logger (off unless debug is on).
  return onV7 ? {} : { driverOptions: { log: { warn } } as never };
}

interface KnexPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}
interface PgPool {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  query(sql: string): Promise<{ rows: unknown[] }>;
}

const connectionOf = (orm: MikroORM, type: 'read' | 'write' = 'write') => orm.em.getDriver().getConnection(type) as unknown as {
  getKnex?(): { client: { pool: KnexPool }; raw(sql: string): Promise<{ rows: unknown[] }> };
  getNativeClient?(): Promise<PgPool>;
};

/** Connections of the ORM's (primary) pool in use, connections in it, and requests waiting for one. */
async function poolUsageNow(orm: MikroORM): Promise<{ used: number; open: number; pending: number }> {
  const connection = connectionOf(orm);
  if (!onV7) {
    const pool = connection.getKnex!().client.pool;
    return { used: pool.numUsed(), open: pool.numUsed() + pool.numFree(), pending: pool.numPendingAcquires() };
  }
  const pool = await connection.getNativeClient!();
  return { used: pool.totalCount - pool.idleCount, open: pool.totalCount, pending: pool.waitingCount };
}

// How long a MikroORM 7 connection may stay checked out after its user released it: while the session
// reset that follows unscoped work runs (RlsPgClient destroys a connection whose reset takes longer).
const RESET_SETTLES_MS = 1_500;

/**
 * The pool's usage once nothing is left running: on MikroORM 7 a connection that served unscoped work
 * holds its slot until its session reset, sent on release, has run. A connection that never comes back
 * still shows as used after that bound.
 */
export async function poolUsage(orm: MikroORM): Promise<{ used: number; open: number; pending: number }> {
  const until = Date.now() + RESET_SETTLES_MS;
  for (;;) {
    const usage = await poolUsageNow(orm);
    if ((usage.used === 0 && usage.pending === 0) || !onV7 || Date.now() > until) return usage;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Runs `sql` on a connection taken straight from the ORM's pool (below MikroORM and this package's
 * scope): the primary's, or with `'read'` a read replica's (the primary's when there is none).
 */
export async function rawPooledQuery<T = Record<string, unknown>>(orm: MikroORM, sql: string, pool: 'read' | 'write' = 'write'): Promise<T[]> {
  const connection = connectionOf(orm, pool);
  const result = onV7 ? await (await connection.getNativeClient!()).query(sql) : await connection.getKnex!().raw(sql);
  return result.rows as T[];
}

/** A client of the ORM's (primary) pool, held for `work` and then given back, as each major's driver hands it out. */
export async function withRawPoolClient<T>(orm: { em: unknown }, work: (client: { query(sql: string): Promise<{ rows: Record<string, unknown>[] }> }) => Promise<T>): Promise<T> {
  const connection = connectionOf(orm as MikroORM) as unknown as {
    getNativeClient?(): Promise<{ connect(): Promise<{ query(sql: string): Promise<{ rows: Record<string, unknown>[] }>; release(): void }> }>;
    getKnex?(): { client: { acquireConnection(): Promise<{ query(sql: string): Promise<{ rows: Record<string, unknown>[] }> }>; releaseConnection(c: unknown): Promise<void> } };
  };
  if (onV7) {
    const client = await (await connection.getNativeClient!()).connect();
    try {
      return await work(client);
    } finally {
      client.release();
    }
  }
  const knexClient = connection.getKnex!().client;
  const client = await knexClient.acquireConnection();
  try {
    return await work(client);
  } finally {
    await knexClient.releaseConnection(client);
  }
}

/** Runs `sql` on a transaction as MikroORM hands it to transaction events (a knex transaction on 6, a Kysely one on 7). */
export async function rawInTransaction(transaction: unknown, sql: string): Promise<unknown> {
  if (!onV7) return (transaction as { raw(sql: string): Promise<unknown> }).raw(sql);
  // Kysely is in the v7 tree only: loaded here, in the v7 run.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { CompiledQuery } = require('kysely') as { CompiledQuery: { raw(sql: string): unknown } };
  return (transaction as { executeQuery(query: unknown): Promise<unknown> }).executeQuery(CompiledQuery.raw(sql));
}

/**
 * A hook on new connections that reports success for a connection it ended: knex's `afterCreate` that
 * calls `done` and then throws (knex ends the connection), pg-pool's `onConnect` that ends the client and
 * resolves (pg-pool hands it out).
 */
export function hookThatEndsItsConnection(): Extra {
  if (onV7) return { pool: { min: 0, max: 1 }, driverOptions: { onConnect: (client: Client) => client.end() } as never };
  const afterCreate = (client: Client, done: (error: Error | null, client: Client) => void) => {
    done(null, client);
    throw new Error('user hook failed after done');
  };
  return { pool: { min: 0, max: 1, afterCreate } as never };
}

/**
 * An ordinary health check of pooled connections, as the pool documents it, counting its calls in
 * `seen.checks`: knex's `pool.validate` (given through `driverOptions.pool`, which MikroORM 6 merges over
 * the guarded pool options), pg-pool's `verify` on MikroORM 7.
 */
export function healthCheck(seen: { checks: number }): Extra {
  if (onV7) {
    const verify = (_client: Client, done: (error?: Error) => void) => {
      seen.checks++;
      done();
    };
    return { driverOptions: { verify } as never };
  }
  return { driverOptions: { pool: { validate: () => (seen.checks++, true) } } as never };
}

/** Whether this run is on MikroORM 7 (for the few outcomes that differ by major, each saying why). */
export const onMikroOrm7 = onV7;

/** The rows of a query builder read as a stream (knex's stream of `getKnexQuery()` on 6, `qb.stream()` on 7). */
export async function streamedRows(qb: unknown): Promise<unknown[]> {
  const rows: unknown[] = [];
  const source = onV7
    ? (qb as { stream(): AsyncIterable<unknown> }).stream()
    : (qb as { getKnexQuery(): { stream(): AsyncIterable<unknown> } }).getKnexQuery().stream();
  for await (const row of source) rows.push(row);
  return rows;
}

/** A query builder as the driver's own query, for a subquery condition (knex's on 6; on 7 the builder itself, which MikroORM inlines). */
export function nativeSubquery(qb: unknown): never {
  return (onV7 ? qb : (qb as { getKnexQuery(): unknown }).getKnexQuery()) as never;
}

/**
 * A query builder's SQL run by the driver's own query builder under `em`, below MikroORM: an awaited
 * `qb.getKnexQuery()` on 6; on 7 the SQL through `em.getKysely()` (Kysely, MikroORM 7's query builder).
 */
export async function rowsThroughDriverQueryBuilder(em: unknown, qb: unknown): Promise<unknown[]> {
  if (!onV7) return (await (qb as { getKnexQuery(): Promise<unknown[]> }).getKnexQuery()) as unknown[];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { CompiledQuery } = require('kysely') as { CompiledQuery: { raw(sql: string): unknown } };
  const kysely = (em as { getKysely(): { executeQuery(query: unknown): Promise<{ rows: unknown[] }> } }).getKysely();
  return (await kysely.executeQuery(CompiledQuery.raw((qb as { getFormattedQuery(): string }).getFormattedQuery()))).rows;
}

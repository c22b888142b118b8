import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { createPolicies, withRls, type RlsEntityManager } from '../src';
import { startEmbeddedPostgres } from '../tests/support/embedded-postgres';
import { createBenchDatabase, DATASET, itemIdsByTenant, seedBenchDatabase, type BenchDatabase } from './dataset';
import { Item, PlainItem } from './entities';
import { seededPicker } from './measure';
import type { Orms, VariantOf } from './variants';
import { WithoutSessionReset } from './without-session-reset';
import type { Workload } from './workloads';

/** Same for every variant. */
export const POOL_SIZE = 10;
export const CONCURRENCY = 10;

export interface Bench {
  db: BenchDatabase;
  orms: Orms;
  /** Takes the session reset off the messages of `orms.rlsWithoutReset`, and counts what it took off. */
  withoutReset: WithoutSessionReset;
  ids: Map<number, number[]>;
  postgresVersion: string;
  /** Closes the ORMs (their pools), keeping the server and data set up (for the MikroORM 7 part). */
  closeOrms(): Promise<void>;
  close(): Promise<void>;
}

/** The bench's server: DATABASE_URL (a superuser URL), or an embedded PostgreSQL when it is unset. */
export async function benchServer(): Promise<{ url: string; stop(): Promise<void> }> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => undefined };
  console.log('DATABASE_URL is not set: starting an embedded PostgreSQL (embedded-postgres)');
  const { server, url } = await startEmbeddedPostgres();
  return { url, stop: () => server.stop() };
}

async function createSchemaAndPolicies(db: BenchDatabase): Promise<void> {
  const owner = await MikroORM.init(withRls({ entities: [Item, PlainItem], clientUrl: db.ownerUrl }));
  try {
    await owner.schema.createSchema();
    await createPolicies(owner);
  } finally {
    await owner.close(true);
  }
}

export async function serverVersion(url: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ v: string }>("select current_setting('server_version') as v")).rows[0].v;
  } finally {
    await client.end();
  }
}

type AfterCreate = (connection: never, done: (error: Error | null, connection: never) => void) => void;

/** `first`, then `then` (when given), on each new connection. */
const chained =
  (first: AfterCreate, then?: AfterCreate): AfterCreate =>
  (connection, done) =>
    first(connection, (error, created) => (error || !then ? done(error, created) : then(created, done)));

/**
 * The server (DATABASE_URL, or an embedded one), a freshly built data set, and the ORMs of a run (plain
 * MikroORM, MikroORM with `withRls`, and the latter again without the session reset on the wire), all
 * connected as the application role with the same pool. `afterCreate` sees every pooled connection (the
 * round-trip counter hooks in there).
 */
export async function openBench(afterCreate?: AfterCreate): Promise<Bench> {
  const server = await benchServer();
  let orms: Partial<Orms> = {};
  try {
    const db = await createBenchDatabase(server.url);
    console.log(`data set: ${DATASET.items} items, ${DATASET.ordinaryTenants + 1} tenants (building...)`);
    await createSchemaAndPolicies(db);
    await seedBenchDatabase(db);
    const options = { entities: [Item, PlainItem], clientUrl: db.appUrl, pool: { min: POOL_SIZE, max: POOL_SIZE, ...(afterCreate && { afterCreate }) } };
    orms.plain = await MikroORM.init(options);
    orms.rls = (await MikroORM.init(withRls(options))) as MikroORM & { em: RlsEntityManager };
    // The variables withRls resets for the bench's one condition arg, under the default prefix.
    const withoutReset = new WithoutSessionReset(['rls.tenant_id']);
    const strippedPool = { ...options.pool, afterCreate: chained(withoutReset.afterCreate as unknown as AfterCreate, afterCreate) };
    orms.rlsWithoutReset = (await MikroORM.init(withRls({ ...options, pool: strippedPool }))) as MikroORM & { em: RlsEntityManager };
    const close = () => closeAll(orms, server);
    const closeOrms = () => closeOrmsOf(orms);
    return { db, orms: orms as Orms, withoutReset, ids: await itemIdsByTenant(db), postgresVersion: await serverVersion(db.superUrl), closeOrms, close };
  } catch (error) {
    await closeAll(orms, server);
    throw error;
  }
}

/** Closes each ORM once: the ones already closed are no longer in `orms`. */
async function closeOrmsOf(orms: Partial<Orms>): Promise<void> {
  for (const key of ['plain', 'rls', 'rlsWithoutReset'] as const) {
    const orm = orms[key];
    delete orms[key];
    await orm?.close(true);
  }
}

async function closeAll(orms: Partial<Orms>, server: { stop(): Promise<void> }): Promise<void> {
  await closeOrmsOf(orms);
  await server.stop();
}

/** What a request needs of a run: its ORMs (of either major) and each tenant's item ids. */
export interface RequestSource<O> {
  orms: O;
  ids: ReadonlyMap<number, readonly number[]>;
}

/**
 * One request of `workload` under `variant`, for worker `worker`. The seeds depend on the workload,
 * round and worker only, so every variant (of either MikroORM major) draws the same tenants and rows in
 * the same order.
 */
export function requestsOf<O>(bench: RequestSource<O>, variant: VariantOf<O>, workload: Workload, round: number): (worker: number) => Promise<unknown> {
  const pickers = Array.from({ length: CONCURRENCY }, (_, w) => seededPicker(workload.id * 10_000 + round * 100 + w));
  return (worker) => {
    const pick = pickers[worker];
    return variant.run(bench.orms, workload.tenant(pick), (em, target) => workload.body(em, target, pick, bench.ids));
  };
}

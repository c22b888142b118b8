import { runSql } from '../tests/support/sql-client';
import { urlFor } from '../tests/support/test-database';
import { passwordOf } from '../tests/support/test-roles';

/** Fixed shape of the data set: 100 ordinary tenants of 500 items each, and one that owns half the table. */
export const DATASET = {
  items: 100_000,
  ordinaryTenants: 100,
  itemsPerOrdinaryTenant: 500,
  /** The tenant whose items are every other row: the scan workload reads its half of the table. */
  bigTenant: 101,
} as const;

export const ROLES = { owner: 'rls_bench_owner', app: 'rls_bench_app' } as const;
const DATABASE = 'rls_bench';

export interface BenchDatabase {
  ownerUrl: string;
  appUrl: string;
  superUrl: string;
}

/**
 * A fresh `rls_bench` database (or `name`) owned by a dedicated owner role, and an application role that
 * is neither superuser nor BYPASSRLS and owns nothing, as in production. Recreated on every run.
 */
export async function createBenchDatabase(superuserUrl: string, name: string = DATABASE): Promise<BenchDatabase> {
  const run = (sql: string) => runSql(superuserUrl, sql);
  await run(`drop database if exists ${name} with (force)`);
  for (const [role, attributes] of [
    [ROLES.owner, 'LOGIN'],
    [ROLES.app, 'LOGIN NOSUPERUSER NOBYPASSRLS'],
  ] as const) {
    await run(`do $$ begin create role ${role}; exception when duplicate_object then null; end $$`);
    await run(`alter role ${role} ${attributes} password '${passwordOf(role)}'`);
  }
  await run(`create database ${name} owner ${ROLES.owner}`);
  return { superUrl: urlFor(superuserUrl, name), ownerUrl: urlFor(superuserUrl, name, ROLES.owner), appUrl: urlFor(superuserUrl, name, ROLES.app) };
}

/**
 * Fills both tables with the same rows, interleaved by tenant as rows written over time would be, and
 * grants the application role what it needs. Runs as superuser, after the schema and policies exist.
 */
export async function seedBenchDatabase(db: BenchDatabase): Promise<void> {
  const { items, ordinaryTenants, bigTenant } = DATASET;
  const run = (sql: string, params?: unknown[]) => runSql(db.superUrl, sql, params);
  await run(
    `insert into bench_items (tenant_id, title, qty)
     select case when i % 2 = 0 then $1 else (i / 2) % $2 + 1 end, 'item ' || i, i % 97
     from generate_series(1, $3::int) i`,
    [bigTenant, ordinaryTenants, items],
  );
  await run(`insert into bench_plain_items (id, tenant_id, title, qty) select id, tenant_id, title, qty from bench_items order by id`);
  await run(`select setval(pg_get_serial_sequence('bench_plain_items', 'id'), (select max(id) from bench_plain_items))`);
  await run(`grant select, insert, update, delete on bench_items, bench_plain_items to ${ROLES.app}`);
  await run(`grant usage on all sequences in schema public to ${ROLES.app}`);
  await run('vacuum analyze bench_items');
  await run('vacuum analyze bench_plain_items');
  const [role] = await run(`select rolsuper, rolbypassrls from pg_roles where rolname = $1`, [ROLES.app]);
  if (role?.rolsuper || role?.rolbypassrls) throw new Error(`${ROLES.app} must be NOSUPERUSER NOBYPASSRLS for the benchmark to mean anything`);
}

/** Removes what the insert workload added, so every variant starts from the same table. */
export async function resetInsertedRows(db: BenchDatabase): Promise<void> {
  for (const table of ['bench_items', 'bench_plain_items']) {
    await runSql(db.superUrl, `delete from ${table} where id > $1`, [DATASET.items]);
    await runSql(db.superUrl, `vacuum analyze ${table}`);
  }
}

/** The ids of each ordinary tenant's items, for point reads of rows the tenant owns. */
export async function itemIdsByTenant(db: BenchDatabase): Promise<Map<number, number[]>> {
  const rows = await runSql<{ tenant: number; ids: number[] }>(
    db.superUrl,
    `select tenant_id as tenant, array_agg(id order by id) as ids from bench_items where tenant_id <= $1 group by tenant_id`,
    [DATASET.ordinaryTenants],
  );
  return new Map(rows.map((r) => [r.tenant, r.ids]));
}

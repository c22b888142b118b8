import type { MikroORM as CoreMikroORM } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import { createPolicies, dropPolicies, RlsViolationError, withRls, type RlsEntityManager } from '../../src';
import { ITEM_PARTITIONS, itemEntity, PARTITIONED_ITEMS_SQL, SEED_ITEMS_SQL } from '../fixtures/partitioned-model';
import { runSql } from '../support/sql-client';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// PostgreSQL applies only the policies of the table a query names: a partition queried directly skips
// its parent's. createPolicies therefore puts the parent's flags and policies on every partition.

jest.setTimeout(60_000);

let db: TestDatabase;
let owner: MikroORM;
let app: CoreMikroORM<never, RlsEntityManager>;

beforeAll(async () => {
  db = await createTestDatabase();
  await runSql(db.ownerUrl, PARTITIONED_ITEMS_SQL);
  owner = await MikroORM.init(withRls({ clientUrl: db.ownerUrl, entities: [itemEntity()] }));
  await createPolicies(owner);
  await db.query(SEED_ITEMS_SQL);
  await db.assertAppRoleIsUnprivileged();
  app = (await MikroORM.init(withRls({ clientUrl: db.appUrl, entities: [itemEntity()] }))) as never;
});
afterAll(async () => {
  await app?.close(true);
  await owner?.close(true);
  await db?.drop();
});

const tenantsIn = async (table: string, tenant: number) =>
  (await app.em.forkWithRls({ tenant_id: tenant }).execute<{ tenant_id: number }[]>(`select tenant_id from ${table} order by id`)).map((r) => r.tenant_id);

const partitionState = () =>
  db.query(
    `select c.relname as table, c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
            array(select polname::text from pg_policy where polrelid = c.oid order by 1) as policies
     from pg_class c where c.relname like 'items%' and c.relkind in ('r', 'p') order by 1`,
  );

it('a partition queried directly shows the application only its own tenant, in every partition and sub-partition', async () => {
  expect(await tenantsIn('items_t2', 1)).toEqual([]);
  expect(await tenantsIn('items_other_low', 1)).toEqual([]);
  expect(await tenantsIn('items_other_high', 1)).toEqual([]);
  expect(await tenantsIn('items_other', 1)).toEqual([]);
  expect(await tenantsIn('items_t1', 1)).toEqual([1]);
  expect(await tenantsIn('items_other', 3)).toEqual([3, 3]);
  expect(await tenantsIn('items', 2)).toEqual([2]);
});

it('a write into another tenant partition, named directly, is refused', async () => {
  const insert = app.em.forkWithRls({ tenant_id: 1 }).execute(`insert into items_t2 (tenant_id, id, title) values (2, 50, 'not mine')`);
  await expect(insert).rejects.toBeInstanceOf(RlsViolationError);
  const update = await app.em.forkWithRls({ tenant_id: 1 }).execute(`update items_other_high set title = 'mine now' returning id`);
  expect(update).toEqual([]);
});

it('every partition is enabled and forced and carries the parent policies; a second run changes nothing', async () => {
  expect(await partitionState()).toEqual(
    ['items', ...ITEM_PARTITIONS].sort().map((table) => ({ table, enabled: true, forced: true, policies: ['tenant_all'] })),
  );
  expect(await createPolicies(owner)).toEqual([]);
});

it('a partition created later gets the policies on the next run, and a drifted partition policy is repaired', async () => {
  await runSql(db.ownerUrl, `create table items_t4 partition of items for values in (4); alter policy tenant_all on items_t1 using (true)`);
  try {
    const ops = await createPolicies(owner);
    expect(ops.map((op) => `${op.table.name}: ${op.description}`)).toEqual([
      'items_t1: alter policy tenant_all',
      'items_t4: enable row level security',
      'items_t4: force row level security',
      'items_t4: create policy tenant_all',
    ]);
    expect(await tenantsIn('items_t1', 2)).toEqual([]);
    expect(await createPolicies(owner)).toEqual([]);
  } finally {
    await runSql(db.ownerUrl, `drop table items_t4`);
  }
});

it('dropPolicies removes the policies and RLS from the partitions too', async () => {
  const ops = await dropPolicies(owner);
  expect(ops.filter((op) => op.table.name === 'items_other_low').map((op) => op.description)).toEqual([
    'drop policy tenant_all',
    'disable row level security',
    'no force row level security',
  ]);
  expect(await partitionState()).toEqual(['items', ...ITEM_PARTITIONS].sort().map((table) => ({ table, enabled: false, forced: false, policies: [] })));
  await createPolicies(owner);
});

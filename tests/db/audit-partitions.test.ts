import { MikroORM } from '@mikro-orm/postgresql';
import { auditRls, createPolicies, withRls } from '../../src';
import { itemEntity, PARTITIONED_ITEMS_SQL } from '../fixtures/partitioned-model';
import { runSql } from '../support/sql-client';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// A partition without RLS is a way around its parent's policies (a query that names it skips them): the
// audit flags partitions without ENABLE or FORCE, missing or different policies there, and hand-written ones.

jest.setTimeout(60_000);

let db: TestDatabase;
let owner: MikroORM;
let app: MikroORM;

beforeAll(async () => {
  db = await createTestDatabase();
  await runSql(db.ownerUrl, PARTITIONED_ITEMS_SQL);
  owner = await MikroORM.init(withRls({ clientUrl: db.ownerUrl, entities: [itemEntity()] }));
  await createPolicies(owner);
  app = await MikroORM.init(withRls({ clientUrl: db.appUrl, entities: [itemEntity()] }));
});
afterAll(async () => {
  await app?.close(true);
  await owner?.close(true);
  await db?.drop();
});

const codes = async () => (await auditRls(app)).map((f) => `${f.code}${f.table ? ` ${f.table}` : ''}`).sort();

it('finds nothing when every partition has its table policies', async () => {
  expect(await codes()).toEqual([]);
});

it('flags a partition without RLS, a sub-partition without FORCE, and a partition created after the policies', async () => {
  await runSql(db.ownerUrl, `
    alter table items_t1 disable row level security;
    alter table items_other_low no force row level security;
    create table items_t4 partition of items for values in (4)`);
  try {
    expect(await codes()).toEqual([
      'partition-not-forced public.items_other_low',
      'partition-rls-disabled public.items_t1',
      'partition-rls-disabled public.items_t4',
      'policy-drift public.items_t4',
    ]);
    const t4 = (await auditRls(app)).find((f) => f.table === 'public.items_t4' && f.code === 'partition-rls-disabled')!;
    expect(t4.message).toMatch(/partition of public.items.*a query that names it directly sees and changes every tenant's rows/);
  } finally {
    await runSql(db.ownerUrl, `drop table items_t4`);
    await createPolicies(owner);
  }
  expect(await codes()).toEqual([]);
});

it('flags a dropped or altered policy on a partition as drift, and a hand-written one as undeclared', async () => {
  await runSql(db.ownerUrl, `
    drop policy tenant_all on items_t2;
    alter policy tenant_all on items_other_high using (tenant_id > 0);
    create policy open_sesame on items_other for select using (true)`);
  try {
    expect(await codes()).toEqual([
      'policy-drift public.items_other_high',
      'policy-drift public.items_t2',
      'policy-reads-no-context public.items_other',
      'policy-reads-no-context public.items_other_high',
      'policy-undeclared public.items_other',
    ]);
  } finally {
    await runSql(db.ownerUrl, `drop policy open_sesame on items_other`);
    await createPolicies(owner);
  }
});

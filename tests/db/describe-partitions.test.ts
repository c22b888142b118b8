import { MikroORM } from '@mikro-orm/postgresql';
import { createPolicies, describePolicies, withRls } from '../../src';
import { renderPolicyMapMarkdown } from '../../src/core/explorer/render-markdown';
import { renderPolicyMapText } from '../../src/core/explorer/render-text';
import { ITEM_PARTITIONS, itemEntity, PARTITIONED_ITEMS_SQL } from '../fixtures/partitioned-model';
import { runSql } from '../support/sql-client';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// The explorer shows the partitions of a declared table (read from the catalog), each with its table's
// policies, as createPolicies gives them: a query that names a partition gets only the partition's own.

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

it('lists every partition after its table, with the table policies, declared and live, without differences', async () => {
  const map = await describePolicies(app as never, { live: true });
  expect(map.tables.map((t) => [t.name, t.entity, t.partitionOf])).toEqual([['items', 'Item', undefined], ...ITEM_PARTITIONS.map((name) => [name, null, 'public.items'])]);
  for (const table of map.tables) {
    expect(table.declared.commands.map((c) => c.state)).toEqual(['allowed', 'allowed', 'allowed', 'allowed']);
    expect(table.live?.commands.map((c) => c.policies.map((p) => p.name))).toEqual([['tenant_all'], ['tenant_all'], ['tenant_all'], ['tenant_all']]);
    expect(table.differences).toEqual([]);
  }
  expect(renderPolicyMapText(map)).toContain('public.items_t1 (partition of public.items): declared');
  expect(renderPolicyMapMarkdown(map)).toContain('| items_t1 | partition of public.items |');
});

it('marks a partition whose policy was dropped, or whose RLS was turned off, by hand', async () => {
  await runSql(db.ownerUrl, `drop policy tenant_all on items_t2; alter table items_other_low disable row level security`);
  try {
    const map = await describePolicies(app as never, { live: true });
    const differences = map.tables.filter((t) => t.differences.length > 0).map((t) => [t.name, t.differences.map((d) => d.kind)]);
    expect(differences).toEqual([
      ['items_other_low', ['enable-differs']],
      ['items_t2', ['only-declared']],
    ]);
    expect(map.tables.find((t) => t.name === 'items_other_low')!.live!.commands.map((c) => c.state)).toEqual(['unprotected', 'unprotected', 'unprotected', 'unprotected']);
  } finally {
    await createPolicies(owner);
  }
});

it('Markdown marks a table with a difference beside its name and counts the differences', async () => {
  await runSql(db.ownerUrl, `drop policy tenant_all on items_t2`);
  try {
    const markdown = renderPolicyMapMarkdown(await describePolicies(app as never, { live: true }));
    expect(markdown).toContain('| items_t2 ≠ | partition of public.items | RLS enabled, forced |');
    expect(markdown).toContain('| items_t1 | partition of public.items | RLS enabled, forced |');
    expect(markdown).toMatch(/\n\d+ warning\(s\), 1 difference\(s\)\.\n$/);
  } finally {
    await createPolicies(owner);
  }
});

import { Collection, EntitySchema } from '@mikro-orm/core';
import { Command, ConditionArg, Permissive, RlsViolationError, column, sql } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { updateSchema } from '../support/schema-generator';

// Pivot tables beyond the plain case: composite keys and custom join column names in a schema whose name
// needs quoting, a relation where only one side has RLS, a self-referencing relation, a pivot entity that
// declares its own policies, and a relation opted out with rls.pivotTables.

const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const tenant = Permissive({ conditionArgs: [accountId], cmd: Command.all, customPolicyName: 'tenant' });
const SCHEMA = 'shop data';

class Doc {
  accountId!: number;
  id!: number;
  labels = new Collection<Label>(this);
  related = new Collection<Doc>(this);
  folders = new Collection<Folder>(this);
  seeAlso = new Collection<Doc>(this);
}
class Label {
  id!: number;
}
class Folder {
  id!: number;
  accountId!: number;
  docs = new Collection<Doc>(this);
}
class FolderDoc {
  folder!: Folder;
  doc!: Doc;
  accountId!: number;
}

const DocSchema = new EntitySchema<Doc>({
  class: Doc,
  schema: SCHEMA,
  tableName: 'docs',
  properties: {
    accountId: { type: 'integer', primary: true },
    id: { type: 'integer', primary: true },
    labels: { kind: 'm:n', entity: () => Label, owner: true, pivotTable: 'doc_labels', joinColumns: ['d_account', 'd_id'], inverseJoinColumns: ['l_id'] },
    related: { kind: 'm:n', entity: () => Doc, owner: true, pivotTable: 'doc_related' },
    seeAlso: { kind: 'm:n', entity: () => Doc, owner: true, pivotTable: 'doc_see_also' },
    folders: { kind: 'm:n', entity: () => Folder, mappedBy: 'docs' },
  },
  rls: { policies: [tenant], pivotTables: { related: false } },
});
const LabelSchema = new EntitySchema<Label>({
  class: Label,
  schema: SCHEMA,
  tableName: 'labels',
  properties: { id: { type: 'integer', primary: true } },
});
const FolderSchema = new EntitySchema<Folder>({
  class: Folder,
  schema: SCHEMA,
  tableName: 'folders',
  properties: {
    id: { type: 'integer', primary: true },
    accountId: { type: 'integer' },
    docs: { kind: 'm:n', entity: () => Doc, owner: true, pivotEntity: () => FolderDoc },
  },
  rls: { policies: [tenant] },
});
const FolderDocSchema = new EntitySchema<FolderDoc>({
  class: FolderDoc,
  schema: SCHEMA,
  tableName: 'folder_docs',
  properties: {
    folder: { kind: 'm:1', entity: () => Folder, primary: true },
    doc: { kind: 'm:1', entity: () => Doc, primary: true },
    accountId: { type: 'integer' },
  },
  rls: { policies: [Permissive({ conditionArgs: [accountId], cmd: Command.all, customExpr: (id) => sql`${column('account_id')} = ${id}`, customPolicyName: 'own_links' })] },
});

const SEED = `
  set search_path = "${SCHEMA}";
  insert into docs (account_id, id) values (1, 1), (2, 1);
  insert into labels (id) values (1), (2);
  insert into doc_labels (d_account, d_id, l_id) values (1, 1, 1), (2, 1, 2);
  insert into doc_related values (1, 1, 2, 1);
  insert into doc_see_also values (1, 1, 2, 1), (1, 1, 1, 1);
  reset search_path;
`;

let t: Booted;
const tenant1 = () => t.app.em.forkWithRls({ account_id: 1 });
const policiesOf = async (table: string) =>
  (await t.db.query(`select policyname from pg_policies where schemaname = $1 and tablename = $2 order by 1`, [SCHEMA, table])).map((r) => r.policyname);

beforeAll(async () => {
  t = await boot({ entities: [DocSchema, LabelSchema, FolderSchema, FolderDocSchema], extra: { schema: 'public' } });
  await t.db.query(`grant usage on schema "${SCHEMA}" to "${t.db.roles.app}"`);
  await t.db.query(SEED);
});
afterAll(() => t?.close());

it('a composite-key pivot with custom join columns shows only links of own docs when the other side has no RLS', async () => {
  expect(await tenant1().execute(`select d_account, d_id, l_id from "${SCHEMA}".doc_labels`)).toEqual([{ d_account: 1, d_id: 1, l_id: 1 }]);
  await tenant1().execute(`insert into "${SCHEMA}".doc_labels (d_account, d_id, l_id) values (1, 1, 2)`);
  await expect(tenant1().execute(`insert into "${SCHEMA}".doc_labels (d_account, d_id, l_id) values (2, 1, 1)`)).rejects.toThrow(RlsViolationError);
});

it('a self-referencing pivot requires both docs to be visible', async () => {
  expect(await tenant1().execute(`select count(*)::int as n from "${SCHEMA}".doc_see_also`)).toEqual([{ n: 1 }]);
});

it('a relation opted out with pivotTables keeps its pivot table without RLS', async () => {
  expect(await t.db.query(`select relrowsecurity as enabled from pg_class where oid = '"${SCHEMA}".doc_related'::regclass`)).toEqual([{ enabled: false }]);
  expect(await policiesOf('doc_related')).toEqual([]);
});

it('a pivot entity that declares its own policies keeps exactly those', async () => {
  expect(await policiesOf('folder_docs')).toEqual(['own_links_all']);
});

it('schema:create and schema:update (the path migrations take) include the pivot policies', async () => {
  const create = await t.owner.schema.getCreateSchemaSQL();
  expect(create).toMatch(/create policy "linked_rows_all" on "shop data"."doc_labels" as permissive for all to public using \(\("d_account", "d_id"\) in \(select "account_id", "id" from "shop data"."docs"\)\)/);
  expect(create).toMatch(/create policy "linked_rows_all" on "shop data"."doc_see_also"/);
  expect(create).not.toMatch(/on "shop data"."doc_related"/);
  expect(await t.owner.schema.getUpdateSchemaSQL()).toBe('');
  await t.db.query(`drop policy linked_rows_all on "${SCHEMA}".doc_labels`);
  try {
    expect(await t.owner.schema.getUpdateSchemaSQL()).toMatch(/create policy "linked_rows_all" on "shop data"."doc_labels"/);
  } finally {
    await updateSchema(t.owner);
  }
  expect(await policiesOf('doc_labels')).toEqual(['linked_rows_all']);
});

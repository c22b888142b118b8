import { boot, type Booted } from '../fixtures/boot';
import { Item, User } from '../fixtures/seed-example';

// The seed README's full example. With its four policies, for account a:
// - users: select and update see id = a;
// - items: select sees owner_id = a OR owner_id > a OR owner_id <= a, i.e. every item that has an owner;
//   update touches owner_id = a OR owner_id <= a, i.e. owner_id <= a.

const RESET = `
  truncate users, items restart identity cascade;
  insert into users (id, username) values (1, 'ann'), (2, 'bob'), (3, 'cid');
  insert into items (id, title, owner_id) values (1, 'i1', 1), (2, 'i2', 2), (3, 'i3', 3), (4, 'i4', 2), (5, 'orphan', null);
`;

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: [User, Item], seedSql: RESET });
});
beforeEach(() => t.db.query(RESET));
afterAll(() => t?.close());

const idsOf = (rows: { id: number }[]) => rows.map((r) => r.id).sort((a, b) => a - b);

it('creates the policies the seed README describes, one per command', async () => {
  const rows = await t.db.query(`select tablename, policyname, cmd from pg_policies where schemaname = 'public' order by 1, 2`);
  expect(rows).toEqual([
    { tablename: 'items', policyname: 'equal_to_accountId_policy_select', cmd: 'SELECT' },
    { tablename: 'items', policyname: 'equal_to_accountId_policy_update', cmd: 'UPDATE' },
    { tablename: 'items', policyname: 'greater_than_accountId_policy_select', cmd: 'SELECT' },
    { tablename: 'items', policyname: 'smaller_than_or_equal_accountId_policy_all', cmd: 'ALL' },
    { tablename: 'users', policyname: 'equal_to_accountId_policy_select', cmd: 'SELECT' },
    { tablename: 'users', policyname: 'equal_to_accountId_policy_update', cmd: 'UPDATE' },
  ]);
});

it.each([
  [1, [1], [1, 2, 3, 4]],
  [2, [2], [1, 2, 3, 4]],
  [3, [3], [1, 2, 3, 4]],
  [99, [], [1, 2, 3, 4]],
])('account %i selects users %j and items %j', async (account, users, items) => {
  const em = t.app.em.forkWithRls({ account_id: account });
  expect(idsOf(await em.find(User, {}))).toEqual(users);
  expect(idsOf(await em.find(Item, {}))).toEqual(items);
});

it.each([
  [1, [1], [1]],
  [2, [2], [1, 2, 4]],
  [3, [3], [1, 2, 3, 4]],
])('account %i can update users %j and items %j', async (account, users, items) => {
  const em = t.app.em.forkWithRls({ account_id: account });
  await em.nativeUpdate(User, {}, { username: `renamed-${account}` as never });
  await em.nativeUpdate(Item, {}, { description: `by-${account}` });
  expect(idsOf(await t.db.query(`select id from users where username like 'renamed-%'`))).toEqual(users);
  expect(idsOf(await t.db.query(`select id from items where description = 'by-${account}'`))).toEqual(items);
});

it('refuses an update that would move an item out of reach of the updating account', async () => {
  const em = t.app.em.forkWithRls({ account_id: 1 });
  await expect(em.nativeUpdate(Item, { id: 1 }, { owner: 3 })).rejects.toThrow(/row-level security/);
  expect(await t.db.query(`select owner_id from items where id = 1`)).toEqual([{ owner_id: 1 }]);
});

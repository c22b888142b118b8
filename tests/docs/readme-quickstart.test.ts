import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EntitySchema } from '@mikro-orm/core';
import { boot, type Booted } from '../fixtures/boot';

// The Quickstart's entities, taken from the README as they stand, must isolate tenants: that is what the
// Quickstart teaches. The block is written next to this test (ts-jest compiles it), importing the
// package's source instead of its published name.

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
const block = /```ts\n(\/\/ file: entities\.ts\n[\s\S]*?)```/.exec(readme)?.[1];
const generated = join(__dirname, '.generated');

let t: Booted;
let Account: EntitySchema;
let Item: EntitySchema;

beforeAll(async () => {
  if (!block) throw new Error('README.md has no ```ts block starting with "// file: entities.ts"');
  mkdirSync(generated, { recursive: true });
  writeFileSync(join(generated, 'entities.ts'), block.replace(/from 'mikro-orm-rls'/g, "from '../../../src'"));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const entities = require(join(generated, 'entities.ts'));
  ({ Account, Item } = entities);
  t = await boot({
    entities: entities.entities,
    seedSql: `insert into accounts (id, name) values (1, 'Acme'), (2, 'Globex');
              insert into items (id, title, account_id) values (1, 'acme a', 1), (2, 'acme b', 1), (3, 'globex a', 2);`,
  });
});

afterAll(async () => {
  await t?.close();
});

it('an account sees only its own account and items', async () => {
  const acme = t.app.em.forkWithRls({ account_id: 1 });
  expect((await acme.find(Item, {}, { orderBy: { id: 'asc' } })).map((i: any) => i.title)).toEqual(['acme a', 'acme b']);
  expect((await acme.find(Account, {})).map((a: any) => a.name)).toEqual(['Acme']);
  expect(await t.app.em.forkWithRls({ account_id: 2 }).count(Item)).toBe(1);
});

it("an account cannot write another account's items", async () => {
  const acme = t.app.em.forkWithRls({ account_id: 1 });
  expect(await acme.nativeUpdate(Item, { id: 3 }, { title: 'taken' })).toBe(0);
  acme.create(Item, { id: 4, title: 'forged', account: 2 });
  await expect(acme.flush()).rejects.toThrow(/row-level security/);
  expect(await t.db.query('select id, title from items where account_id = 2')).toEqual([{ id: 3, title: 'globex a' }]);
});

it('no context, no rows', async () => {
  expect(await t.app.em.fork().count(Item)).toBe(0);
});

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/postgresql';
import { withRls } from '../../src';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// The README's migration sample is what `migration:create` writes (the CLI calls the same Migrator
// method) for the change the README describes: the Quickstart's entities, with the account id's type
// changed from integer to bigint, in a project whose first migration came from `migration:create` too (so
// the migration snapshot holds the previous state). Only the class name, which carries the creation
// time, may differ.

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
const entitiesBlock = /```ts\n(\/\/ file: entities\.ts\n[\s\S]*?)```/.exec(readme)?.[1];
const migrationBlock = /```ts\n\/\/ file: (Migration\d+)\.ts\n([\s\S]*?)```/.exec(readme);
const generated = join(__dirname, '.generated');

function loadEntities(name: string, code: string): Options['entities'] {
  mkdirSync(generated, { recursive: true });
  const file = join(generated, `${name}.ts`);
  writeFileSync(file, code.replace(/from 'mikro-orm-rls'/g, "from '../../../src'"));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file).entities;
}

let db: TestDatabase | undefined;
let dir: string | undefined;
afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('the README shows the migration that migration:create writes for its bigint change', async () => {
  if (!entitiesBlock || !migrationBlock) throw new Error('README.md lacks the entities.ts block or the Migration<timestamp>.ts block');
  const changed = entitiesBlock.replace("type: 'integer' })", "type: 'bigint' })");
  expect(changed).not.toBe(entitiesBlock);
  const before = loadEntities('migration-before', entitiesBlock);
  const after = loadEntities('migration-after', changed);

  db = await createTestDatabase();
  mkdirSync(generated, { recursive: true });
  dir = mkdtempSync(join(generated, 'migrations-')); // inside the repository, where its imports resolve
  const ownerWith = (entities: Options['entities']) =>
    MikroORM.init(withRls({ entities, clientUrl: db!.ownerUrl, extensions: [Migrator], migrations: { path: dir } }));

  const first = await ownerWith(before);
  try {
    await first.getMigrator().createMigration();
    await first.getMigrator().up();
  } finally {
    await first.close();
  }
  const second = await ownerWith(after);
  try {
    const { code } = await second.getMigrator().createMigration();
    const [, className, shown] = migrationBlock;
    expect(code.replace(/Migration\d+/g, className)).toBe(shown.replace(/^\/\/ file: .*\n/, ''));
  } finally {
    await second.close();
  }
});

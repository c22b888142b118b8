import { EntitySchema } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import { Command, ConditionArg, Permissive, Restrictive, column, createPolicies, dropPolicies, sql, withRls, type Policy } from '../../src';
import { fitIdentifier } from '../../src/core/ddl';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { createSchema } from '../support/schema-generator';

// createPolicies / dropPolicies against a non-default schema with a space in its name, a reserved-word
// table name and a policy name longer than PostgreSQL keeps.

const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const LONG = 'a_policy_name_that_is_much_longer_than_the_sixty_three_bytes_postgres_keeps';

interface Order {
  id: number;
  accountId: number;
}

/** The entity with the given policies; without any, the table has no RLS (how the tests start). */
function orderEntity(policies?: Policy[], force = true) {
  return new EntitySchema<Order>({
    name: 'Order',
    schema: 'tenant data',
    tableName: 'order',
    properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' } },
    ...(policies ? { rls: { policies, force } } : {}),
  });
}

const own = (cmp = '=') =>
  Permissive({
    conditionArgs: [accountId],
    cmd: [Command.select, Command.update],
    customExpr: (id) => sql`${column('account_id')} ${sql.raw(cmp)} ${id}`,
    customPolicyName: 'own',
  });
const long = Permissive({ conditionArgs: [accountId], cmd: Command.insert, customPolicyName: LONG });

let db: TestDatabase;
const orms: MikroORM[] = [];
async function ownerOrm(policies?: Policy[], force = true) {
  const orm = await MikroORM.init(withRls({ clientUrl: db.ownerUrl, entities: [orderEntity(policies, force)] }));
  orms.push(orm);
  return orm;
}
const livePolicies = () =>
  db.query(
    `select policyname, permissive, cmd, roles::text[] as roles, qual, with_check from pg_policies where schemaname = 'tenant data' and tablename = 'order' order by 1`,
  );
const flags = async () =>
  (await db.query(`select relrowsecurity as enabled, relforcerowsecurity as forced from pg_class where oid = '"tenant data"."order"'::regclass`))[0];

beforeAll(async () => {
  db = await createTestDatabase();
  const orm = await ownerOrm();
  await createSchema(orm);
  await db.query(`create policy by_hand on "tenant data"."order" as permissive for delete using (false)`);
});
afterAll(async () => {
  for (const orm of orms) await orm.close(true);
  await db?.drop();
});

it('creates the declared policies, enables and forces RLS, and is idempotent', async () => {
  const orm = await ownerOrm([own(), long]);
  const first = await createPolicies(orm);
  expect(first.map((o) => o.description)).toEqual([
    'enable row level security',
    'force row level security',
    'create policy own_select',
    'create policy own_update',
    `create policy ${fitIdentifier(`${LONG}_insert`)}`,
  ]);
  expect(await createPolicies(orm)).toEqual([]);
  expect(await flags()).toEqual({ enabled: true, forced: true });
  const names = (await livePolicies()).map((p: { policyname: string }) => p.policyname);
  expect(names).toEqual([fitIdentifier(`${LONG}_insert`), 'by_hand', 'own_select', 'own_update']);
  expect(Buffer.byteLength(names[0])).toBeLessThanOrEqual(63);
});

it('replaces a changed expression with ALTER POLICY and leaves the rest alone', async () => {
  const orm = await ownerOrm([own('>='), long]);
  const ops = await createPolicies(orm);
  expect(ops.map((o) => o.description)).toEqual(['alter policy own_select', 'alter policy own_update']);
  const select = (await livePolicies()).find((p: { policyname: string }) => p.policyname === 'own_select');
  expect(select.qual).toBe(`(account_id >= ( SELECT (NULLIF(current_setting('rls.account_id'::text, true), ''::text))::integer AS "nullif"))`);
  expect(await createPolicies(orm)).toEqual([]);
});

it('drops and recreates a policy that becomes restrictive', async () => {
  const restrictive = Restrictive({ conditionArgs: [accountId], cmd: Command.insert, customPolicyName: LONG });
  const ops = await createPolicies(await ownerOrm([own('>='), restrictive]));
  expect(ops).toHaveLength(1);
  expect(ops[0].up[0]).toMatch(/^drop policy/);
  const row = (await livePolicies()).find((p: { cmd: string }) => p.cmd === 'INSERT');
  expect(row.permissive).toBe('RESTRICTIVE');
});

it('drops policies no longer declared, turns FORCE off when asked, and never touches the hand-written one', async () => {
  const ops = await createPolicies(await ownerOrm([own('>=')], false));
  expect(ops.map((o) => o.description)).toEqual(['no force row level security', `drop policy ${fitIdentifier(`${LONG}_insert`)}`]);
  expect(await flags()).toEqual({ enabled: true, forced: false });
  expect((await livePolicies()).map((p: { policyname: string }) => p.policyname)).toEqual(['by_hand', 'own_select', 'own_update']);
});

it('rolls back everything when one policy is invalid', async () => {
  const broken = Permissive({ conditionArgs: [accountId], cmd: Command.delete, customExpr: (id) => sql`${column('account_id')} = ${id} +`, customPolicyName: 'broken' });
  const before = await livePolicies();
  await expect(createPolicies(await ownerOrm([own(), broken]))).rejects.toThrow(/PostgreSQL rejected policy "broken_delete" on tenant data.order: syntax error/);
  expect(await livePolicies()).toEqual(before);
});

it('dropPolicies removes managed policies and keeps RLS on where hand-written policies remain', async () => {
  const orm = await ownerOrm([own('>=')], false);
  const ops = await dropPolicies(orm);
  expect(ops.map((o) => o.description)).toEqual(['drop policy own_select', 'drop policy own_update']);
  expect((await livePolicies()).map((p: { policyname: string }) => p.policyname)).toEqual(['by_hand']);
  expect(await flags()).toEqual({ enabled: true, forced: false });
});

it('with manageAllPolicies, also drops hand-written policies that are not declared', async () => {
  const orm = await MikroORM.init(withRls({ clientUrl: db.ownerUrl, entities: [orderEntity([own()])] }, { manageAllPolicies: true }));
  orms.push(orm);
  const ops = await createPolicies(orm);
  expect(ops.map((o) => o.description)).toContain('drop policy by_hand');
  expect((await livePolicies()).map((p: { policyname: string }) => p.policyname)).toEqual(['own_select', 'own_update']);
  expect(await createPolicies(orm)).toEqual([]);
});

it('tells the application role that only the owner can manage policies', async () => {
  // A declaration with something to change: with nothing to change, the role has nothing to be refused.
  const orm = await MikroORM.init(withRls({ clientUrl: db.appUrl, entities: [orderEntity([own(), Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'app_role_probe' })])] }));
  orms.push(orm);
  await db.query(`grant usage on schema "tenant data" to "${db.roles.app}"`);
  await expect(createPolicies(orm)).rejects.toThrow(/must be owner of table order.*run createPolicies \(or migrations\) with the owner role/);
});

it('fails with a clear error when the table does not exist yet', async () => {
  const Missing = new EntitySchema<{ id: number; accountId: number }>({
    name: 'Missing',
    properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' } },
    rls: { policies: [own()] },
  });
  const orm = await MikroORM.init(withRls({ clientUrl: db.ownerUrl, entities: [Missing] }));
  orms.push(orm);
  await expect(createPolicies(orm)).rejects.toThrow(/table\(s\) public.missing do not exist. Create the schema first/);
});

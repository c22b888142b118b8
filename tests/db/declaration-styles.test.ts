import { EntitySchema } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '../support/decorators';
import { MikroORM } from '@mikro-orm/postgresql';
import { Command, ConditionArg, Permissive, Rls, column, sql, withRls } from '../../src';
import { boot, type Booted } from '../fixtures/boot';
import { ids } from '../support/ids';

// Policies attach through the decorator, through EntitySchema (and defineEntity, see seed-example), are
// inherited from base entities, and STI children share their root's table and policies.

const tenantId = ConditionArg({ comparatorName: 'tenant_id', type: 'integer' });
const tenantPolicy = Permissive({ conditionArgs: [tenantId], cmd: Command.all, customPolicyName: 'tenant' });

@Rls({ policies: [tenantPolicy] })
abstract class TenantOwned {
  @Property({ type: 'integer' })
  tenantId!: number;
}

@Entity({ tableName: 'notes' })
class Note extends TenantOwned {
  @PrimaryKey({ type: 'integer' })
  id!: number;

  @Property({ type: 'string' })
  body!: string;
}

@Rls([tenantPolicy])
@Entity({ tableName: 'animals', discriminatorColumn: 'kind', discriminatorMap: { dog: 'Dog', cat: 'Cat' } })
class Animal {
  @PrimaryKey({ type: 'integer' })
  id!: number;

  @Property({ type: 'string' })
  kind!: string;

  @Property({ type: 'integer' })
  tenantId!: number;
}

@Entity({ discriminatorValue: 'dog' })
class Dog extends Animal {}

@Entity({ discriminatorValue: 'cat' })
class Cat extends Animal {}

interface Audited {
  id: number;
  tenantId: number;
}
const AuditedBase = new EntitySchema<Pick<Audited, 'tenantId'>>({
  name: 'AuditedBase',
  abstract: true,
  properties: { tenantId: { type: 'integer' } },
  rls: { policies: [tenantPolicy] },
});
const Invoice = new EntitySchema<Audited>({
  name: 'Invoice',
  tableName: 'invoices',
  extends: 'AuditedBase',
  properties: { id: { type: 'integer', primary: true } } as never,
  rls: { force: false, policies: [Permissive({ conditionArgs: [tenantId], cmd: Command.select, customExpr: (id) => sql`${column('tenant_id')} >= ${id}`, customPolicyName: 'reader' })] },
});

const RESET = `
  truncate notes, animals, invoices;
  insert into notes (id, body, tenant_id) values (1, 'mine', 1), (2, 'theirs', 2);
  insert into animals (id, kind, tenant_id) values (1, 'dog', 1), (2, 'dog', 2), (3, 'cat', 1);
  insert into invoices (id, tenant_id) values (1, 1), (2, 2);
`;

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: [Note, Animal, Dog, Cat, AuditedBase, Invoice], seedSql: RESET });
});
afterAll(() => t?.close());


it('creates policies for decorated, inherited, STI and schema-inherited entities, and nothing for abstract bases', async () => {
  const rows = await t.db.query(`select tablename, policyname from pg_policies where schemaname = 'public' order by 1, 2`);
  expect(rows).toEqual([
    { tablename: 'animals', policyname: 'tenant_all' },
    { tablename: 'invoices', policyname: 'reader_select' },
    { tablename: 'invoices', policyname: 'tenant_all' },
    { tablename: 'notes', policyname: 'tenant_all' },
  ]);
});

it('enables and forces RLS by default, and honours force: false', async () => {
  const rows = await t.db.query(
    `select relname, relrowsecurity, relforcerowsecurity from pg_class where relname in ('notes', 'animals', 'invoices') order by 1`,
  );
  expect(rows).toEqual([
    { relname: 'animals', relrowsecurity: true, relforcerowsecurity: true },
    { relname: 'invoices', relrowsecurity: true, relforcerowsecurity: false },
    { relname: 'notes', relrowsecurity: true, relforcerowsecurity: true },
  ]);
});

it('scopes an entity whose policies come from a decorated abstract base class', async () => {
  expect(ids(await t.app.em.forkWithRls({ tenant_id: 1 }).find(Note, {}))).toEqual([1]);
});

it('scopes STI children through the root table policies', async () => {
  const em = t.app.em.forkWithRls({ tenant_id: 1 });
  expect(ids(await em.find(Dog, {}))).toEqual([1]);
  expect(ids(await em.find(Cat, {}))).toEqual([3]);
  expect(ids(await em.find(Animal, {}))).toEqual([1, 3]);
});

it('combines base schema policies with the entity own ones', async () => {
  // tenant_all (= 1) OR reader_select (>= 1) for tenant 1: both invoices; for tenant 2 only invoice 2.
  expect(ids(await t.app.em.forkWithRls({ tenant_id: 1 }).find(Invoice, {}))).toEqual([1, 2]);
  expect(ids(await t.app.em.forkWithRls({ tenant_id: 2 }).find(Invoice, {}))).toEqual([2]);
});

it('refuses policies declared on an STI child, at start-up', async () => {
  @Entity({ tableName: 'vehicles', discriminatorColumn: 'kind', discriminatorMap: { car: 'Car' } })
  class Vehicle {
    @PrimaryKey({ type: 'integer' })
    id!: number;

    @Property({ type: 'string' })
    kind!: string;
  }
  @Rls([tenantPolicy])
  @Entity({ discriminatorValue: 'car' })
  class Car extends Vehicle {}

  await expect(MikroORM.init(withRls({ clientUrl: t.db.appUrl, entities: [Vehicle, Car], connect: false }))).rejects.toThrow(
    /Entity Car declares RLS policies, but it shares table "vehicles" with Vehicle/,
  );
});

it('refuses a policy naming a column the table does not have, at start-up', async () => {
  const Broken = new EntitySchema<{ id: number }>({
    name: 'Broken',
    properties: { id: { type: 'integer', primary: true } },
    rls: { policies: [Permissive({ conditionArgs: [tenantId], cmd: Command.all })] },
  });
  await expect(MikroORM.init(withRls({ clientUrl: t.db.appUrl, entities: [Broken], connect: false }))).rejects.toThrow(
    /references column "tenant_id", which the table does not have/,
  );
});

it('refuses one variable declared with two types, at start-up', async () => {
  const A = new EntitySchema<{ id: number; tenantId: number }>({
    name: 'A',
    properties: { id: { type: 'integer', primary: true }, tenantId: { type: 'integer' } },
    rls: { policies: [tenantPolicy] },
  });
  const B = new EntitySchema<{ id: number; tenantId: string }>({
    name: 'B',
    properties: { id: { type: 'integer', primary: true }, tenantId: { type: 'uuid' } },
    rls: { policies: [Permissive({ conditionArgs: [ConditionArg({ comparatorName: 'tenant_id', type: 'uuid' })], cmd: Command.all })] },
  });
  await expect(MikroORM.init(withRls({ clientUrl: t.db.appUrl, entities: [A, B], connect: false }))).rejects.toThrow(
    /"tenant_id" is declared as (integer|uuid) in one policy and (uuid|integer) in another/,
  );
});

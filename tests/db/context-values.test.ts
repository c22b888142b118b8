import { EntitySchema } from '@mikro-orm/core';
import { Command, ConditionArg, Permissive, column, sql } from '../../src';
import { boot, type Booted } from '../fixtures/boot';

// Every supported value type travels from the context to the policy cast and compares exactly.

interface Row {
  id: number;
  n: number;
  big: string;
  label: string;
  flag: boolean;
  at: Date;
  tenant: string;
}

const args = {
  n: ConditionArg({ comparatorName: 'n', type: 'integer' }),
  big: ConditionArg({ comparatorName: 'big', type: 'bigint' }),
  label: ConditionArg({ comparatorName: 'label', type: 'text' }),
  flag: ConditionArg({ comparatorName: 'flag', type: 'boolean' }),
  at: ConditionArg({ comparatorName: 'at', type: 'timestamptz' }),
  tenant: ConditionArg({ comparatorName: 'tenant', type: 'uuid' }),
};

const Typed = new EntitySchema<Row>({
  name: 'Typed',
  tableName: 'typed',
  properties: {
    id: { type: 'integer', primary: true },
    n: { type: 'integer' },
    big: { type: 'bigint' },
    label: { type: 'text' },
    flag: { type: 'boolean' },
    at: { type: 'datetime', columnType: 'timestamptz(3)' },
    tenant: { type: 'uuid' },
  },
  rls: {
    policies: [
      Permissive({
        conditionArgs: [args.n, args.big, args.label, args.flag, args.at, args.tenant],
        cmd: Command.select,
        customExpr: (n, big, label, flag, at, tenant) =>
          sql`${column('n')} = ${n} and ${column('big')} = ${big} and ${column('label')} = ${label} and ${column('flag')} = ${flag} and ${column('at')} = ${at} and ${column('tenant')} = ${tenant}`,
      }),
    ],
  },
});

const TENANT = '0b7e5e0c-3f3a-4d7e-9a55-6f1d2c3b4a59';
const context = {
  n: -7,
  big: 9223372036854775807n,
  label: `o'brien \\ "quoted" ünï 🚀`,
  flag: true,
  at: new Date('2026-03-04T05:06:07.089Z'),
  tenant: TENANT,
};

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: [Typed] });
  await t.db.query(
    `insert into typed (id, n, big, label, flag, at, tenant) values
       (1, $1, $2, $3, $4, $5, $6), (2, $1, $2, $3, false, $5, $6), (3, $1, $2, 'other', $4, $5, $6)`,
    [context.n, context.big.toString(), context.label, context.flag, context.at, context.tenant],
  );
});
afterAll(() => t?.close());

it('matches exactly the row whose every column equals its context value', async () => {
  const rows = await t.app.em.forkWithRls(context).find(Typed, {});
  expect(rows.map((r) => r.id)).toEqual([1]);
});

it('accepts a bigint given as a string and a number', async () => {
  expect(await t.app.em.forkWithRls({ ...context, big: '9223372036854775807' }).count(Typed)).toBe(1);
  expect(await t.app.em.forkWithRls({ ...context, big: 5 }).count(Typed)).toBe(0);
});

it('treats a different uuid spelling (upper case) as the same value', async () => {
  expect(await t.app.em.forkWithRls({ ...context, tenant: TENANT.toUpperCase() }).count(Typed)).toBe(1);
});

it('a value differing in one character matches nothing', async () => {
  expect(await t.app.em.forkWithRls({ ...context, label: context.label + ' ' }).count(Typed)).toBe(0);
  expect(await t.app.em.forkWithRls({ ...context, at: new Date(context.at.getTime() + 1) }).count(Typed)).toBe(0);
});

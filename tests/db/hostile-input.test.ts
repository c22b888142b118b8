import { EntitySchema } from '@mikro-orm/core';
import { Command, ConditionArg, Permissive, RlsContextError, column, sql } from '../../src';
import { boot, type Booted } from '../fixtures/boot';

// A corpus of hostile context values and identifiers: each is rejected with a clear error before any
// SQL, or travels as data and compares exactly. None can change the SQL that runs.

const tenant = ConditionArg({ comparatorName: 'tenant', type: 'text' });
const level = ConditionArg({ comparatorName: 'level', type: 'smallint' });

interface Doc {
  id: number;
  tenant: string;
  level: number;
}

// Identifiers with quotes and spaces (and a dot in the policy name), on purpose. MikroORM itself reads a
// dot in a schema or table name as a separator, so those cannot be declared through it at all.
const Weird = new EntitySchema<Doc>({
  name: 'Weird',
  schema: 'odd "schema"',
  tableName: 'we"ird table',
  properties: {
    id: { type: 'integer', primary: true },
    tenant: { type: 'text', fieldName: 'ten"ant' },
    level: { type: 'smallint' },
  },
  rls: {
    policies: [
      Permissive({
        conditionArgs: [tenant, level],
        cmd: Command.all,
        customExpr: (t, l) => sql`${column('ten"ant')} = ${t} and ${column('level')} <= ${l}`,
        customPolicyName: 'po"li.cy',
      }),
    ],
  },
});

const VALUES = [
  `o'brien`,
  `'; drop table x; --`,
  `back\\slash \\' \\\\`,
  `"double" $1 ? :name`,
  `ünïcödé 🚀 中文 \u202e`,
  `line\nbreak\ttab`,
  'x'.repeat(10_000),
  `' or '1'='1`,
];

let t: Booted;
beforeAll(async () => {
  t = await boot({ entities: [Weird] });
  await t.db.query(`grant usage on schema "odd ""schema""" to rls_test_app`);
  for (const [i, value] of VALUES.entries()) {
    await t.db.query(`insert into "odd ""schema"""."we""ird table" (id, "ten""ant", level) values ($1, $2, 1)`, [i + 1, value]);
  }
});
afterAll(() => t?.close());

it('created the policy on the oddly named table with its name intact', async () => {
  expect(await t.db.query(`select schemaname, tablename, policyname from pg_policies`)).toEqual([
    { schemaname: 'odd "schema"', tablename: 'we"ird table', policyname: 'po"li.cy_all' },
  ]);
});

it.each(VALUES.map((value, i) => [i + 1, value]))('value #%i travels as data and matches exactly its own row', async (id, value) => {
  const em = t.app.em.forkWithRls({ tenant: value, level: 5 });
  expect((await em.find(Weird, {})).map((d) => d.id)).toEqual([id]);
  // Inside a transaction the scope statement travels with the first statement, values as literals.
  expect(await em.transactional(async (tx) => (await tx.find(Weird, {})).map((d) => d.id))).toEqual([id]);
});

it('a value differing only by case or trailing space matches nothing', async () => {
  expect(await t.app.em.forkWithRls({ tenant: `O'BRIEN`, level: 5 }).count(Weird)).toBe(0);
  expect(await t.app.em.forkWithRls({ tenant: `o'brien `, level: 5 }).count(Weird)).toBe(0);
});

it.each([
  ['a NUL byte', { tenant: 'a\0b', level: 1 }, /tenant/],
  ['an empty string', { tenant: '', level: 1 }, /tenant/],
  ['a number where text is expected', { tenant: 1, level: 1 }, /tenant/],
  ['an object', { tenant: { toString: () => 'x' }, level: 1 }, /tenant/],
  ['an array', { tenant: ['x'], level: 1 }, /tenant/],
  ['smallint out of range', { tenant: 'x', level: 40_000 }, /level/],
  ['a float for an integer', { tenant: 'x', level: 1.5 }, /level/],
  ['NaN', { tenant: 'x', level: Number.NaN }, /level/],
  ['Infinity', { tenant: 'x', level: Number.POSITIVE_INFINITY }, /level/],
  ['a bigint for smallint', { tenant: 'x', level: 1n }, /level/],
  ['a numeric string for smallint', { tenant: 'x', level: '1' }, /level/],
  ['a missing field', { tenant: 'x' }, /level/],
  ['an extra field', { tenant: 'x', level: 1, 'rls.tenant': 'y' }, /rls\.tenant: not a field of the context schema/],
  ['a prototype-polluting key', JSON.parse('{"tenant":"x","level":1,"__proto__":{"admin":true}}'), /__proto__: not a field of the context schema/],
])('rejects %s before any SQL', (_label, context, problem) => {
  t.queries.length = 0;
  let error: unknown;
  try {
    t.app.em.forkWithRls(context as never);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(RlsContextError);
  expect((error as Error).message).toMatch(problem);
  expect(t.queries).toEqual([]);
});

it.each([
  ['a quote', `acc'ount`],
  ['a dot', 'account.id'],
  ['a space', 'account id'],
  ['upper case', 'AccountId'],
])('rejects a variable name with %s at declaration time', (_label, name) => {
  expect(() => ConditionArg({ comparatorName: name, type: 'integer' })).toThrow(/must be a lower-case identifier/);
});

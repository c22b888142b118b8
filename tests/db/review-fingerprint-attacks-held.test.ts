import { EntitySchema } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import { Command, ConditionArg, Permissive, createPolicies, sql, withRls, type Policy } from '../../src';
import { RoundTripCounter } from '../support/round-trip-counter';
import { createSchema } from '../support/schema-generator';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// Attacks of an adversarial review on the fingerprint (src/core/catalog/policy-fingerprint.ts), each kept
// as a test: after the attack, the next createPolicies must leave the live policy as a probe would (the
// comment reset to the plain marker, which is never trusted), so there is nothing left for a probe to do.
// A1-A5 and A9 broke it before the settings went into d and application operators and functions named
// like the trees' stopped the trust; A7 and A8 held. A forged comment (q recomputed by hand by the table's
// owner) cannot be told from a real one without a secret: the README says so.
const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const tenant = ConditionArg({ comparatorName: 'tenant', type: 'text' });

interface Doc { id: number; accountId: number; tenant: string }
const docEntity = (policies: Policy[]) =>
  new EntitySchema<Doc>({
    name: 'Doc', tableName: 'doc',
    properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' }, tenant: { type: 'string' } },
    rls: { policies },
  });

let db: TestDatabase;
const orms: MikroORM[] = [];
const counter = new RoundTripCounter();
let sent: string[] = [];
counter.onSent((text) => sent.push(text));

async function ownerOrm(policies: Policy[]) {
  const orm = await MikroORM.init(withRls(counter.installIn({ clientUrl: db.ownerUrl, entities: [docEntity(policies)], pool: { min: 0, max: 1 } })));
  orms.push(orm);
  return orm;
}
async function run(orm: MikroORM) {
  sent = [];
  const operations = (await createPolicies(orm)).map((op) => op.description);
  return { operations, probed: sent.some((t) => /mikro_orm_rls_probe/.test(t)) };
}
const live = async () => (await db.query(`select policyname, qual from pg_policies where tablename = 'doc' order by 1`)) as { policyname: string; qual: string }[];
const resetComments = () => db.query(`do $$ declare r record; begin for r in select polname from pg_policy where polrelid = 'doc'::regclass loop
  execute format('comment on policy %I on doc is %L', r.polname, 'managed by mikro-orm-rls'); end loop; end $$`);

beforeEach(async () => { db = await createTestDatabase(); });
afterEach(async () => { for (const orm of orms.splice(0)) await orm.close(true); await db.drop(); });

/** Sets up, fingerprints, applies `attack`, then runs createPolicies, then again with the comments reset (a probe). */
async function scenario(policies: Policy[], attack: () => Promise<unknown>) {
  await createSchema(await ownerOrm(policies));
  const first = await ownerOrm(policies);
  await run(first);
  // Nothing to change; a policy of the condition args' shape is proven by its fingerprint, any other
  // (a custom expression) is probed on every run (fingerprintEligible).
  expect((await run(first)).operations).toEqual([]);
  const before = await live();
  await attack();
  const after = await ownerOrm(policies); // new connection: picks up database/role settings
  const fingerprinted = await run(after);
  const liveAfterFp = await live();
  await resetComments();
  const probed = await run(after);
  return { before, fingerprinted, liveAfterFp, probed, liveAfterProbe: await live() };
}

/** The run after the attack probed and did all there was to do: a probe afterwards finds nothing. */
function expectAsProbed(r: Awaited<ReturnType<typeof scenario>>) {
  expect(r.fingerprinted.probed).toBe(true);
  expect(r.fingerprinted.operations.length).toBeGreaterThan(0);
  expect(r.probed.operations).toEqual([]);
  expect(r.liveAfterProbe).toEqual(r.liveAfterFp);
}

it('A1 TimeZone changed at database level: a timestamptz literal now means another instant', async () => {
  await db.query(`alter database "${db.name}" set timezone = 'UTC'`);
  const p = [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'tz',
    customExpr: (id) => sql`${sql.raw(`account_id = `)}${id}${sql.raw(` and now() > '2024-01-01 00:00'::timestamptz`)}` })];
  const r = await scenario(p, () => db.query(`alter database "${db.name}" set timezone = 'Asia/Tokyo'`));
  expectAsProbed(r);
});

it('A2 DateStyle changed: a date literal now means another day', async () => {
  await db.query(`alter database "${db.name}" set datestyle = 'ISO, MDY'`);
  const p = [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'ds',
    customExpr: (id) => sql`${sql.raw(`account_id = `)}${id}${sql.raw(` and current_date > '01/02/2024'::date`)}` })];
  const r = await scenario(p, () => db.query(`alter database "${db.name}" set datestyle = 'ISO, DMY'`));
  expectAsProbed(r);
});

it('A3 transform_null_equals turned on', async () => {
  const p = [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'tn',
    customExpr: (id) => sql`${sql.raw(`(account_id = null or account_id = `)}${id}${sql.raw(`)`)}` })];
  const r = await scenario(p, () => db.query(`alter role "${db.roles.owner}" in database "${db.name}" set transform_null_equals = on`));
  expectAsProbed(r);
});

it('A4 operator =(varchar, text) created in public (after pg_catalog) wins over texteq by exact match', async () => {
  const p = [Permissive({ conditionArgs: [tenant], cmd: Command.select, customPolicyName: 'tenant' })];
  const r = await scenario(p, () => db.query(`set role "${db.roles.owner}";
    create function public.vt_eq(varchar, text) returns boolean language sql immutable as 'select $1::text = $2';
    create operator public.= (leftarg = varchar, rightarg = text, function = public.vt_eq)`));
  expectAsProbed(r);
});

it('A5 standard_conforming_strings off: a backslash literal now parses differently', async () => {
  const p = [Permissive({ conditionArgs: [tenant], cmd: Command.select, customPolicyName: 'bs',
    customExpr: (t) => sql`${sql.raw(`tenant = `)}${t}${sql.raw(` and tenant <> 'a\\nb'`)}` })];
  const r = await scenario(p, () => db.query(`alter database "${db.name}" set standard_conforming_strings = off`));
  expectAsProbed(r);
});

it('A7 role renamed, new role of the old name', async () => {
  const role = `${db.name}_reader`;
  await db.query(`create role "${role}"`);
  const p = [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own', to: role })];
  try {
    const r = await scenario(p, () => db.query(`alter role "${role}" rename to "${role}_old"; create role "${role}"`));
    expect(r.fingerprinted).toEqual({ operations: ['alter policy own_select'], probed: true }); // held
  } finally {
    await db.query(`drop policy if exists own_select on doc`);
    await db.query(`drop role if exists "${role}"; drop role if exists "${role}_old"`);
  }
});

it('A8 superuser creates a cast text -> integer: the ConditionArg cast ::integer now calls it', async () => {
  const p = [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own' })];
  try {
    const r = await scenario(p, () => db.query(`create function public.text_to_int(text) returns integer language sql immutable as 'select int4in(textout($1))';
      create cast (text as integer) with function public.text_to_int(text)`));
    // The policy's cast is written in its trees; a probe finds nothing to change either.
    expect(r.probed.operations).toEqual([]);
    expect(r.liveAfterProbe).toEqual(r.liveAfterFp);
  } finally {
    await db.query(`drop cast if exists (text as integer)`);
  }
});

it('A9 operator =(mydomain, integer) on a domain-typed column', async () => {
  const p = [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own' })];
  await db.query(`set role "${db.roles.owner}"; create domain public.acct as integer`);
  await createSchema(await ownerOrm(p));
  await db.query(`set role "${db.roles.owner}"; drop policy own_select on doc; alter table doc alter column account_id type public.acct`);
  const first = await ownerOrm(p);
  await run(first);
  // Nothing to change; a policy of the condition args' shape is proven by its fingerprint, any other
  // (a custom expression) is probed on every run (fingerprintEligible).
  expect((await run(first)).operations).toEqual([]);
  await db.query(`set role "${db.roles.owner}"; create function public.acct_eq(public.acct, integer) returns boolean language sql immutable as 'select $1::integer = $2';
    create operator public.= (leftarg = public.acct, rightarg = integer, function = public.acct_eq)`);
  const after = await ownerOrm(p);
  const fp = await run(after);
  const liveAfterFp = await live();
  await resetComments();
  const probed = await run(after);
  expect(fp).toEqual({ operations: ['alter policy own_select'], probed: true });
  expect(probed.operations).toEqual([]);
  expect(await live()).toEqual(liveAfterFp);
});

import { EntitySchema } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import { Command, ConditionArg, Permissive, auditRls, column, createPolicies, sql, withRls, type Policy } from '../../src';
import { RoundTripCounter } from '../support/round-trip-counter';
import { createSchema } from '../support/schema-generator';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// The fingerprint in a managed policy's comment (src/core/catalog/policy-fingerprint.ts): it spares the
// probe only where it proves the policy unchanged; hand edits, copied comments, old plain comments and
// another search_path are probed and put right.

const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const FINGERPRINTED = /^managed by mikro-orm-rls \(fingerprint d=[0-9a-f]{32} q=[0-9a-f]{32}\)$/;

interface Note {
  id: number;
  accountId: number;
}
const noteEntity = (policies: Policy[]) =>
  new EntitySchema<Note>({ name: 'Note', tableName: 'note', properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' } }, rls: { policies } });

const own = Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own' });
const writes = Permissive({ conditionArgs: [accountId], cmd: Command.update, customPolicyName: 'writes' });

let db: TestDatabase;
const orms: MikroORM[] = [];
const counter = new RoundTripCounter();
let sent: string[] = [];
counter.onSent((text) => sent.push(text));

async function ownerOrm(policies: Policy[] = [own, writes]) {
  const orm = await MikroORM.init(withRls(counter.installIn({ clientUrl: db.ownerUrl, entities: [noteEntity(policies)], pool: { min: 0, max: 1 } })));
  orms.push(orm);
  return orm;
}

/** createPolicies' operations, and whether it probed (a probe sets a savepoint and creates probe policies). */
async function run(orm: MikroORM): Promise<{ operations: string[]; probed: boolean }> {
  sent = [];
  const operations = (await createPolicies(orm)).map((op) => op.description);
  return { operations, probed: sent.some((text) => /mikro_orm_rls_probe/.test(text)) };
}

const live = () => db.query(`select policyname, cmd, roles::text[] as roles, qual from pg_policies where tablename = 'note' order by 1`);
const commentOf = async (name: string) =>
  (await db.query(`select obj_description(p.oid, 'pg_policy') as c from pg_policy p where p.polrelid = 'note'::regclass and p.polname = $1`, [name]))[0].c as string;

beforeEach(async () => {
  db = await createTestDatabase();
  await createSchema(await ownerOrm());
});
afterEach(async () => {
  for (const orm of orms.splice(0)) await orm.close(true);
  await db.drop();
});

it('proves an unchanged policy unchanged with no probe and no operation', async () => {
  const orm = await ownerOrm();
  // The schema generator created them with the plain comment: probed once, found equal, fingerprinted.
  expect(await run(orm)).toEqual({ operations: [], probed: true });
  expect(await commentOf('own_select')).toMatch(FINGERPRINTED);
  expect(await run(orm)).toEqual({ operations: [], probed: false });
});

it('restores a policy altered by hand, with or without its old comment copied back in the same transaction', async () => {
  const orm = await ownerOrm();
  await run(orm);
  const declared = await live();
  await db.query(`alter policy own_select on note using (true)`);
  expect(await run(orm)).toEqual({ operations: ['alter policy own_select'], probed: true });
  expect(await live()).toEqual(declared);
  const comment = await commentOf('own_select');
  await db.query(`begin; alter policy own_select on note using (account_id > 0); comment on policy own_select on note is '${comment}'; commit`);
  expect(await commentOf('own_select')).toBe(comment);
  expect(await run(orm)).toEqual({ operations: ['alter policy own_select'], probed: true });
  expect(await live()).toEqual(declared);
  expect(await run(orm)).toEqual({ operations: [], probed: false });
});

it('restores a policy dropped and created again by hand with its old comment copied', async () => {
  const orm = await ownerOrm();
  await run(orm);
  const declared = await live();
  const comment = await commentOf('own_select');
  await db.query(`begin; drop policy own_select on note; create policy own_select on note as permissive for select using (account_id = 1); comment on policy own_select on note is '${comment}'; commit`);
  expect(await run(orm)).toEqual({ operations: ['alter policy own_select'], probed: true });
  expect(await live()).toEqual(declared);
});

it('does not take a comment moved to another policy for a proof', async () => {
  const orm = await ownerOrm();
  await run(orm);
  const declared = await live();
  await db.query(`begin; alter policy writes_update on note using (true); comment on policy writes_update on note is '${await commentOf('own_select')}'; commit`);
  expect(await run(orm)).toEqual({ operations: ['alter policy writes_update'], probed: true });
  expect(await live()).toEqual(declared);
});

it('applies a changed expression, roles and command', async () => {
  await run(await ownerOrm());
  const changed = await ownerOrm([
    Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own', customExpr: (id) => sql`${sql.raw('account_id')} >= ${id}` }),
    Permissive({ conditionArgs: [accountId], cmd: Command.delete, customPolicyName: 'writes' }),
  ]);
  expect((await run(changed)).operations).toEqual(['drop policy writes_update', 'alter policy own_select', 'create policy writes_delete']);
  expect((await live()).map((p: { policyname: string; cmd: string; qual: string }) => [p.policyname, p.cmd, /^\(account_id (>=|=) \( SELECT/.exec(p.qual)?.[1]])).toEqual([
    ['own_select', 'SELECT', '>='],
    ['writes_delete', 'DELETE', '='],
  ]);
  await db.query(`create role "${db.name}_reader"`);
  try {
    const toRole = await ownerOrm([Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own', customExpr: (id) => sql`${sql.raw('account_id')} >= ${id}`, to: `${db.name}_reader` })]);
    expect((await run(toRole)).operations).toEqual(['drop policy writes_delete', 'alter policy own_select']);
    expect((await live()).map((p: { roles: string[] }) => p.roles)).toEqual([[`${db.name}_reader`]]);
    // `>=` is not the condition args' shape: never proven by its fingerprint, always probed (and unchanged).
    expect(await run(toRole)).toEqual({ operations: [], probed: true });
  } finally {
    await db.query(`drop policy if exists own_select on note`);
    await db.query(`drop role "${db.name}_reader"`);
  }
});

it('probes a policy with the plain comment of older versions, then fingerprints it', async () => {
  const orm = await ownerOrm();
  await run(orm);
  await db.query(`comment on policy own_select on note is 'managed by mikro-orm-rls'; comment on policy writes_update on note is 'managed by mikro-orm-rls'`);
  expect(await run(orm)).toEqual({ operations: [], probed: true });
  expect(await commentOf('own_select')).toMatch(FINGERPRINTED);
  expect(await run(orm)).toEqual({ operations: [], probed: false });
});

it('does not prove a policy unchanged under another search_path, where its function names resolve elsewhere', async () => {
  await db.query(`create schema first; create schema second;
    create function first.pick() returns integer language sql immutable as 'select 1';
    create function second.pick() returns integer language sql immutable as 'select 2';
    grant usage on schema first, second to public`);
  await db.query(`alter role "${db.roles.owner}" in database "${db.name}" set search_path = public, first, second`);
  const picking = [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own', customExpr: (id) => sql`${sql.raw('account_id = pick()')} and ${id} is not null` })];
  const before = await ownerOrm(picking);
  await run(before);
  expect((await live())[0].qual).toMatch(/^\(\(account_id = first\.pick\(\)\) AND/);
  await db.query(`alter role "${db.roles.owner}" in database "${db.name}" set search_path = public, second, first`);
  const after = await ownerOrm(picking);
  expect(await run(after)).toEqual({ operations: ['alter policy own_select'], probed: true });
  expect((await live())[0].qual).toMatch(/^\(\(account_id = second\.pick\(\)\) AND/);
  // A policy that calls a function of the application's is never taken as proven: a new pick() earlier in
  // the path would take over without changing its trees or names.
  expect(await run(after)).toEqual({ operations: [], probed: true });
});

it('probes a policy while a function named like one its expression calls exists in a schema of the search_path', async () => {
  const orm = await ownerOrm();
  await run(orm);
  expect(await run(orm)).toEqual({ operations: [], probed: false });
  // current_setting is what every condition arg calls; a namesake after pg_catalog could win a call by a
  // closer match of argument types, which the stored trees would not show.
  await db.query(`create function public.current_setting(varchar, boolean, integer default 0) returns text language sql as 'select null::text'`);
  expect(await run(orm)).toEqual({ operations: [], probed: true });
  await db.query(`drop function public.current_setting(varchar, boolean, integer)`);
  expect(await run(orm)).toEqual({ operations: [], probed: false });
});

it('proves only condition args as rendered: a custom expression, even one PostgreSQL reads the same way, is always probed', async () => {
  const same = [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own', customExpr: (id) => sql`${column('account_id')} = ${id}` })];
  const orm = await ownerOrm(same);
  await run(orm);
  // The text is the condition arg's own: eligible.
  expect(await run(orm)).toEqual({ operations: [], probed: false });
  const other = [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own', customExpr: (id) => sql`${column('account_id')} = ${id} and text(account_id) <> 'x'` })];
  const custom = await ownerOrm(other);
  await run(custom);
  expect(await run(custom)).toEqual({ operations: [], probed: true });
  expect(await run(custom)).toEqual({ operations: [], probed: true });
});

it('restores a policy whose column was renamed under it and replaced by a new column of the old name', async () => {
  const orm = await ownerOrm();
  await run(orm);
  expect(await run(orm)).toEqual({ operations: [], probed: false });
  // The stored trees name the column by number: they still point at the renamed one.
  await db.query(`alter table note rename column account_id to old_account_id; alter table note add column account_id integer`);
  expect((await live())[0].qual).toMatch(/^\(old_account_id = /);
  expect(await run(orm)).toEqual({ operations: ['alter policy own_select', 'alter policy writes_update'], probed: true });
  expect((await live())[0].qual).toMatch(/^\(account_id = /);
  expect(await run(orm)).toEqual({ operations: [], probed: false });
});

it('always probes a policy that reads another table: a table swapped in under the old name is found', async () => {
  await db.query(`create table member (account_id integer not null); grant select on member to public`);
  const member = [
    Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own', customExpr: (id) => sql`${sql.raw('exists (select 1 from member m where m.account_id = note.account_id)')} and ${id} is not null` }),
  ];
  const orm = await ownerOrm(member);
  await run(orm);
  expect(await run(orm)).toEqual({ operations: [], probed: true });
  await db.query(`alter table member rename to member_old; create table member (account_id integer not null)`);
  expect((await live())[0].qual).toMatch(/member_old/);
  expect(await run(orm)).toEqual({ operations: ['alter policy own_select'], probed: true });
  expect((await live())[0].qual).not.toMatch(/member_old/);
});

it('does not trust fingerprints when a schema comes before pg_catalog in the search_path', async () => {
  // Under that path a function or operator of public's could take over a built-in name at any time.
  await db.query(`alter role "${db.roles.owner}" in database "${db.name}" set search_path = public, pg_catalog`);
  const orm = await ownerOrm();
  await run(orm);
  expect(await commentOf('own_select')).toMatch(FINGERPRINTED);
  expect(await run(orm)).toEqual({ operations: [], probed: true });
});

it('keeps a fingerprinted policy managed for the audit: neither undeclared nor drifted', async () => {
  const orm = await ownerOrm();
  await run(orm);
  expect(await commentOf('writes_update')).toMatch(FINGERPRINTED);
  const codes = (await auditRls(orm)).map((f) => f.code);
  expect(codes).not.toContain('policy-undeclared');
  expect(codes).not.toContain('policy-drift');
});

import { EntitySchema } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import { Command, ConditionArg, Permissive, auditRls, createPolicies, sql, withRls, type Policy } from '../../src';
import { RoundTripCounter } from '../support/round-trip-counter';
import { createSchema } from '../support/schema-generator';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// Adversarial review of 61d3e10 (the fingerprints' shadowing check computed once per query as the
// `shadowed` CTE, the settings read once per query). Each attack asserts the SAFE outcome: after it, the
// next createPolicies probes and leaves the policy as a probe would (a probe afterwards finds nothing), or,
// where the attack cannot change what the declaration means, at least that nothing is left for a probe.
// Setup style of review-fingerprint-attacks-held.test.ts. The reviewer's outcome on 8a90bcf (with 61d3e10):
// S1, S2, S3, S15, S16 BROKE (all five the same with the TRUSTED of 61d3e10^, so none was new); the others
// HELD. S14 broke with 61d3e10^ (the settings were read per row, after an event trigger flipped them
// mid-block) and held with 61d3e10 (read once, before the first COMMENT). Fixed after the review: only
// condition args as rendered are ever proven (fingerprintEligible: S1, S2, S15, S16 are custom
// expressions, now always probed), and objects a superuser made in pg_catalog count as namesakes (S3).
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
const live = async () => (await db.query(`select policyname, qual, with_check from pg_policies where tablename = 'doc' and schemaname = 'public' order by 1`)) as { policyname: string; qual: string }[];
const resetComments = () => db.query(`do $$ declare r record; begin for r in select polname from pg_policy where polrelid = 'public.doc'::regclass loop
  execute format('comment on policy %I on public.doc is %L', r.polname, 'managed by mikro-orm-rls'); end loop; end $$`);

beforeEach(async () => { db = await createTestDatabase(); });
afterEach(async () => { for (const orm of orms.splice(0)) await orm.close(true); await db.drop(); });

/** Sets up, fingerprints, applies `attack`, runs createPolicies, then again with the comments reset (a probe). */
async function scenario(policies: Policy[], attack: () => Promise<unknown>, beforeRun?: (orm: MikroORM) => Promise<unknown>) {
  await createSchema(await ownerOrm(policies));
  const first = await ownerOrm(policies);
  await run(first);
  // Nothing to change; a policy of the condition args' shape is proven by its fingerprint, any other
  // (a custom expression) is probed on every run (fingerprintEligible).
  expect((await run(first)).operations).toEqual([]);
  const before = await live();
  await attack();
  const after = await ownerOrm(policies); // new connection: picks up database/role settings
  if (beforeRun) await beforeRun(after);
  const fingerprinted = await run(after);
  const liveAfterFp = await live();
  await resetComments();
  const probed = await run(after);
  return { before, fingerprinted, liveAfterFp, probed, liveAfterProbe: await live() };
}

/** The run after the attack probed and did all there was to do: a probe afterwards finds nothing. */
function expectAsProbed(r: Awaited<ReturnType<typeof scenario>>) {
  expect({ probeAfterwards: r.probed.operations, run: r.fingerprinted }).toEqual({ probeAfterwards: [], run: { operations: expect.arrayContaining([expect.any(String)]), probed: true } });
  expect(r.liveAfterProbe).toEqual(r.liveAfterFp);
}

/** The attack cannot change what the declaration means: whether probed or not, nothing is left for a probe. */
function expectNothingLeft(r: Awaited<ReturnType<typeof scenario>>) {
  expect(r.probed.operations).toEqual([]);
  expect(r.liveAfterProbe).toEqual(r.liveAfterFp);
  expect(r.liveAfterFp).toEqual(r.before);
}

const A4_OPERATOR = (schema: string) => `create function ${schema}.vt_eq(varchar, text) returns boolean language sql immutable as 'select $1::text = $2';
    create operator ${schema}.= (leftarg = varchar, rightarg = text, function = ${schema}.vt_eq)`;
const tenantPolicy = [Permissive({ conditionArgs: [tenant], cmd: Command.select, customPolicyName: 'tenant' })];

it('S1 function-style cast text(account_id) (a CoerceViaIO, no funcid in the trees) taken over by public.text(integer)', async () => {
  const p = [Permissive({ conditionArgs: [tenant], cmd: Command.select, customPolicyName: 'fc',
    customExpr: (t) => sql`${sql.raw(`tenant = `)}${t}${sql.raw(` and text(account_id) <> 'blocked'`)}` })];
  const r = await scenario(p, () => db.query(`set role "${db.roles.owner}";
    create function public.text(integer) returns text language sql immutable as 'select ''anything'''`));
  expectAsProbed(r);
});

it('S2 timezone_abbreviations changed at database level: IST now means India, not Israel (not in ENVIRONMENT)', async () => {
  const p = [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'abbr',
    customExpr: (id) => sql`${sql.raw(`account_id = `)}${id}${sql.raw(` and now() > '2024-01-01 00:00 IST'::timestamptz`)}` })];
  const r = await scenario(p, () => db.query(`alter database "${db.name}" set timezone_abbreviations = 'India'`));
  expectAsProbed(r);
});

it('S3 superuser adds operator =(varchar, text) to pg_catalog itself (excluded from shadowing_schemas)', async () => {
  const r = await scenario(tenantPolicy, () => db.query(`create function public.vt_eq(varchar, text) returns boolean language sql immutable as 'select $1::text = $2';
    create operator pg_catalog.= (leftarg = varchar, rightarg = text, function = public.vt_eq)`));
  expectAsProbed(r);
});

it('S4 schema with odd characters named in the search_path before it exists, created later with an A4 operator', async () => {
  await db.query(`alter role "${db.roles.owner}" in database "${db.name}" set search_path = "$user", public, "we""ird, sch"`);
  const r = await scenario(tenantPolicy, () => db.query(`create schema "we""ird, sch" authorization "${db.roles.owner}"; set role "${db.roles.owner}"; ${A4_OPERATOR(`"we""ird, sch"`)}`));
  expectAsProbed(r);
});

it('S5 "$user" schema created later holding a table doc: a policy reading doc by name would now read it', async () => {
  const p = [Permissive({ conditionArgs: [accountId], cmd: Command.update, customPolicyName: 'self',
    customExpr: (id) => sql`${sql.raw(`exists (select 1 from doc d2 where d2.id = doc.id and d2.account_id = `)}${id}${sql.raw(`)`)}` })];
  const r = await scenario(p, () => db.query(`create schema "${db.roles.owner}" authorization "${db.roles.owner}";
    set role "${db.roles.owner}"; create table "${db.roles.owner}".doc (id integer, account_id integer)`));
  expectAsProbed(r);
  expect(r.liveAfterFp[0].qual ?? JSON.stringify(r.liveAfterFp[0])).toMatch(/doc/);
});

it('S6 a schema of the path the role cannot USE holds the namesake: ignored; once USAGE is granted, probed', async () => {
  await db.query(`create schema ext; ${A4_OPERATOR('ext')}; revoke all on schema ext from public`);
  await db.query(`alter role "${db.roles.owner}" in database "${db.name}" set search_path = "$user", public, ext`);
  const r = await scenario(tenantPolicy, async () => undefined);
  expect(r.fingerprinted).toEqual({ operations: [], probed: false });
  expectNothingLeft(r);
  await db.query(`grant usage on schema ext to "${db.roles.owner}"`);
  const granted = await ownerOrm(tenantPolicy);
  expect(await run(granted)).toEqual({ operations: ['alter policy tenant_select'], probed: true });
});

it('S7 a namesake in pg_temp of the session (pg_temp never searched for operators, but listed first)', async () => {
  const r = await scenario(tenantPolicy, async () => undefined, (orm) =>
    orm.em.getConnection().execute(`create function pg_temp.vt_eq(varchar, text) returns boolean language sql immutable as 'select $1::text = $2';
      create operator pg_temp.= (leftarg = varchar, rightarg = text, function = pg_temp.vt_eq)`));
  expect(r.fingerprinted.probed).toBe(true);
  expectNothingLeft(r);
});

it('S8 VARIADIC namesake current_setting(variadic text[]) in public: probed', async () => {
  const r = await scenario(tenantPolicy, () => db.query(`set role "${db.roles.owner}";
    create function public.current_setting(variadic text[]) returns text language sql as 'select null::text'`));
  expect(r.fingerprinted.probed).toBe(true);
  expectNothingLeft(r);
});

it('S9 a namesake only in a schema not in the path does not matter (not probed, a probe agrees)', async () => {
  const r = await scenario(tenantPolicy, () => db.query(`create schema elsewhere authorization "${db.roles.owner}"; set role "${db.roles.owner}"; ${A4_OPERATOR('elsewhere')}`));
  expect(r.fingerprinted).toEqual({ operations: [], probed: false });
  expectNothingLeft(r);
});

it('S10 namesake created after the fingerprint in a schema then added to the path by ALTER DATABASE SET', async () => {
  const r = await scenario(tenantPolicy, () => db.query(`create schema late authorization "${db.roles.owner}"; set role "${db.roles.owner}"; ${A4_OPERATOR('late')};
    reset role; alter database "${db.name}" set search_path = "$user", public, late`));
  expectAsProbed(r);
});

it('S11 "$user" schema created later with an A4 operator (search_path text unchanged)', async () => {
  const r = await scenario(tenantPolicy, () => db.query(`create schema "${db.roles.owner}" authorization "${db.roles.owner}"; set role "${db.roles.owner}"; ${A4_OPERATOR(`"${db.roles.owner}"`)}`));
  expectAsProbed(r);
});

it('S12 public.int4(text) namesake: the condition arg\'s ::integer is a typecast (CoerceViaIO), never a function call', async () => {
  const p = [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own' })];
  const r = await scenario(p, () => db.query(`set role "${db.roles.owner}";
    create function public.int4(text) returns integer language sql immutable as 'select 42'`));
  expectNothingLeft(r);
});

it('S13 public."nullif"(text, text) namesake: NULLIF is grammar (NullIfExpr), never a function call', async () => {
  const r = await scenario(tenantPolicy, () => db.query(`set role "${db.roles.owner}";
    create function public."nullif"(text, text) returns text language sql immutable as 'select ''x'''`));
  expectNothingLeft(r);
});

it('S14 settings changed inside the fingerprint-writing DO block (superuser event trigger on COMMENT sets TimeZone)', async () => {
  await db.query(`alter database "${db.name}" set timezone = 'UTC'`);
  const p = Array.from({ length: 12 }, (_, i) => Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: `e${i}`,
    customExpr: (id) => sql`${sql.raw(`account_id = `)}${id}${sql.raw(` and now() > '2024-01-01 00:00'::timestamptz`)}` }));
  await createSchema(await ownerOrm(p));
  await db.query(`create function public.tz_flip() returns event_trigger language plpgsql as $$ begin perform set_config('TimeZone', 'Asia/Tokyo', false); end $$;
    create event trigger tz_flip on ddl_command_end when tag in ('COMMENT') execute function public.tz_flip()`);
  const orm = await ownerOrm(p);
  const first = await run(orm); // probes (plain comments), writes the fingerprints, flips TimeZone on the way
  const tz = await orm.em.getConnection().execute(`select current_setting('TimeZone') as tz`);
  const second = await run(orm); // same session, now in Tokyo: every policy parsed in UTC must be redone
  const liveAfter = await live();
  await db.query(`drop event trigger tz_flip`);
  await resetComments();
  const probed = await run(orm);
  expect({ first: first.probed, tz: tz[0].tz, second: { probed: second.probed, n: second.operations.length }, probeAfterwards: probed.operations })
    .toEqual({ first: true, tz: 'Asia/Tokyo', second: { probed: true, n: 12 }, probeAfterwards: [] });
  expect(await live()).toEqual(liveAfter);
});

it('S15 row comparison (RowCompareExpr stores :opnos, a list the regexp does not match) taken over by public.>(varchar, varchar) (superuser adds it to text_ops)', async () => {
  const p = [Permissive({ conditionArgs: [tenant], cmd: Command.select, customPolicyName: 'row',
    customExpr: (t) => sql`${sql.raw(`tenant = `)}${t}${sql.raw(` and (tenant, id) > ('m', 0)`)}` })];
  const r = await scenario(p, () => db.query(`create function public.vv_gt(varchar, varchar) returns boolean language sql immutable as 'select true';
    create operator public.> (leftarg = varchar, rightarg = varchar, function = public.vv_gt);
    alter operator family pg_catalog.text_ops using btree add operator 5 public.>(varchar, varchar)`));
  expectAsProbed(r);
});

it('S16 (degenerate) a \'now\' literal is folded when the policy is created: never proven, every run probes and puts the declaration\'s current meaning in place', async () => {
  const p = [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'now',
    customExpr: (id) => sql`${sql.raw(`account_id = `)}${id}${sql.raw(` and now() >= 'now'::timestamptz`)}` })];
  await createSchema(await ownerOrm(p));
  const orm = await ownerOrm(p);
  await run(orm);
  for (let i = 0; i < 2; i++) {
    const before = await live();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await run(orm)).toEqual({ operations: ['alter policy now_select'], probed: true });
    expect((await live())[0].qual).not.toBe(before[0].qual);
  }
});

// ---- Third review (of 7b1e7ed, fingerprintEligible and pg_catalog namesakes). Each asserts the SAFE outcome.

// Attack: a concurrent hand edit (another session, the owner) tries to commit between the probe that found the policy equal and the DO block that fingerprints it.
// Before the fix the probe's savepoint released its locks and the edit went through there, then got the probe's fingerprint;
// now the chunk holds ACCESS SHARE on the probed tables to its end: the edit cannot go through in between (here it times out).
it('S17 concurrent ALTER POLICY sent after the probe found the policy equal, before its fingerprint is written', async () => {
  const { execFileSync } = await import('node:child_process');
  await createSchema(await ownerOrm(tenantPolicy));
  const orm = await ownerOrm(tenantPolicy);
  await run(orm);
  await resetComments(); // the next run probes (plain marker), finds the policy equal and fingerprints it
  let edit: string | undefined;
  counter.onSent((text) => {
    if (edit !== undefined || !text.includes('$mikro_orm_rls_fingerprint$')) return;
    // Synchronously, before the fingerprints go out: another session edits the policy in the window.
    try {
      execFileSync('psql', [db.ownerUrl, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `set lock_timeout = '1s'; alter policy tenant_select on public.doc using (true)`], { stdio: 'pipe' });
      edit = 'went through';
    } catch (error) {
      edit = /lock timeout/.test(String((error as { stderr?: Buffer }).stderr)) ? 'waited for the lock' : String(error);
    }
  });
  const raced = await run(orm);
  expect({ raced, edit }).toEqual({ raced: { operations: [], probed: true }, edit: 'waited for the lock' });
  // The policy is as declared and proven so; an edit after the commit is seen by the next run.
  expect(await run(orm)).toEqual({ operations: [], probed: false });
  await db.query(`alter policy tenant_select on public.doc using (true)`);
  expect(await run(orm)).toEqual({ operations: ['alter policy tenant_select'], probed: true });
});

// Attack: a superuser's event trigger on ALTER POLICY rewrites the policy createPolicies just altered, before the DO block fingerprints what is stored.
it('S18 superuser event trigger on ALTER POLICY rewrites the policy to USING (true) before its fingerprint is computed', async () => {
  await createSchema(await ownerOrm(tenantPolicy));
  const orm = await ownerOrm(tenantPolicy);
  await run(orm);
  await db.query(`create function public.open_up() returns event_trigger language plpgsql as $$
    declare r record; begin
      if current_setting('review.busy', true) = '1' then return; end if;
      perform set_config('review.busy', '1', true);
      for r in select p.polname, p.polrelid::regclass as rel from pg_event_trigger_ddl_commands() c join pg_policy p on p.oid = c.objid where c.command_tag = 'ALTER POLICY' loop
        execute format('alter policy %I on %s using (true)', r.polname, r.rel);
      end loop;
      perform set_config('review.busy', '', true);
    end $$;
    create event trigger open_up on ddl_command_end when tag in ('ALTER POLICY') execute function public.open_up()`);
  await db.query(`alter policy tenant_select on public.doc using (false)`); // a hand edit: createPolicies alters it back, the trigger opens it
  const altered = await run(orm);
  const fingerprinted = await run(orm);
  const qual = (await live())[0].qual;
  await resetComments();
  const probed = await run(orm);
  await db.query(`drop event trigger open_up`);
  expect({ altered: altered.operations, qual, probed: probed.operations }).toEqual({ altered: ['alter policy tenant_select'], qual: 'true', probed: ['alter policy tenant_select'] });
  // Not preventable by a fingerprint (a superuser rewrites what PostgreSQL stores right after createPolicies
  // wrote it; like a comment forged by the owner): the fingerprinted run takes it as unchanged. What holds
  // is the audit, whose policy-drift probes every policy (README, "Nothing to change, without probing").
  expect(fingerprinted.operations).toEqual([]);
  await db.query(`alter policy tenant_select on public.doc using (true)`);
  expect((await auditRls(orm)).map((f) => `${f.code} ${f.table}`)).toContain('policy-drift public.doc');
});

// Attack: a superuser adds a cast text -> integer through a function, so `::integer` in the declaration now compiles to a call (FuncExpr) instead of CoerceViaIO.
it('S19 superuser CREATE CAST (text AS integer) WITH FUNCTION: the fingerprint does what the probe does (neither sees it: both decompile as ::integer)', async () => {
  const p = [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own' })];
  const r = await scenario(p, () => db.query(`create function public.evil(text) returns integer language sql immutable as 'select 42';
    create cast (text as integer) with function public.evil(text)`));
  expectNothingLeft(r);
  // What the declaration means now: a new policy calls public.evil; the live one still calls int4in (stored trees).
  await db.query(`create policy fresh on public.doc using ("account_id" = (select nullif(current_setting('rls.account_id', true), '')::integer))`);
  const [fresh, old] = await db.query(`select pg_get_expr(polqual, polrelid) as text, polqual::text ~ ':funcid ${'\\d+'}.*:funcid' as two_calls from pg_policy where polrelid = 'public.doc'::regclass order by polname = 'fresh' desc`);
  expect({ sameText: fresh.text === old.text, freshCallsTwo: fresh.two_calls, oldCallsTwo: old.two_calls }).toEqual({ sameText: true, freshCallsTwo: true, oldCallsTwo: false });
});

// Attack: the column under the policy changes type or collation, or is dropped and re-added (PostgreSQL refuses the first two; the third takes the policy with it).
it('S20 ALTER COLUMN TYPE / COLLATE refused by PostgreSQL; DROP COLUMN CASCADE + re-add: the policy is recreated', async () => {
  const r = await scenario(tenantPolicy, async () => {
    await expect(db.query(`alter table public.doc alter column tenant type varchar(3)`)).rejects.toThrow(/used in a policy definition/);
    await expect(db.query(`alter table public.doc alter column tenant type text collate "C"`)).rejects.toThrow(/used in a policy definition/);
    await db.query(`alter table public.doc drop column tenant cascade; alter table public.doc add column tenant text`);
  });
  expect(r.fingerprinted.operations).toEqual(['create policy tenant_select']);
  expect(r.probed.operations).toEqual([]);
  expect(r.liveAfterProbe).toEqual(r.liveAfterFp);
});

// Attack: a type or domain named like a built-in (text, uuid, date, timestamptz are not keywords) created in public, which is in the path.
it('S21 domains public.text / public.date / public.timestamptz / public.uuid: pg_catalog comes first, the declaration means the same', async () => {
  const r = await scenario(tenantPolicy, () => db.query(`set role "${db.roles.owner}";
    create domain public.text as varchar(1); create domain public.date as integer; create domain public.timestamptz as integer; create domain public.uuid as integer`));
  expectNothingLeft(r);
});

// Attack: texts that pass CONDITION_ARGS_ONLY only if the regexp and PostgreSQL's lexer disagreed on quotes, `and`, backslashes or the end of the text.
it('S22 fingerprintEligible: quoted `and`, doubled quotes, backslashes, trailing text and casts beyond the list are refused or read as PostgreSQL reads them', async () => {
  const { fingerprintEligible } = await import('../../src/core/catalog/policy-fingerprint');
  const arg = (v: string, type = 'integer') => `(select nullif(current_setting('${v}', true), '')::${type})`;
  const eligible = (using: string) => fingerprintEligible({ name: 'p', permissive: true, command: 'select' as never, roles: ['public'], using, withCheck: null });
  expect({
    plain: eligible(`"a" = ${arg('rls.a')}`),
    twoClauses: eligible(`"a" = ${arg('rls.a')} and "b" = ${arg('rls.b', 'uuid')}`),
    andInsideIdentifier: eligible(`"x"" = ${arg('rls.a')} and ""y" = ${arg('rls.b')}`), // one column named x" = ... and "y: still condition args
    andInsideLiteral: eligible(`"a" = ${arg(`rls.a'', true), '''')::integer) and (''`)}`), // one variable with a strange name
  }).toEqual({ plain: true, twoClauses: true, andInsideIdentifier: true, andInsideLiteral: true });
  const refused = [
    `"a" = ${arg('rls.a')} or true`,
    `"a" = ${arg('rls.a')}\n`,
    `"a" = ${arg('rls.a')} -- x`,
    `"a" = ${arg('rls.a')} and ("b") = ${arg('rls.b')}`,
    `U&"a" = ${arg('rls.a')}`,
    `"a" = (select nullif(current_setting(E'rls.\\\\a', true), '')::integer)`,
    `"a" = (select nullif(current_setting('rls.\\\\', true), '')::integer)`,
    `"a" = ${arg('rls.a', 'integer[]')}`,
    `"a" = ${arg('rls.a', '"integer"')}`,
    `"a" = ${arg('rls.a', 'pg_catalog.int4')}`,
    `"a" = ${arg('rls.a', 'timestamptz at time zone \'IST\'')}`,
    `"a" = ${arg('rls.a', 'timestamp with time zone')}`,
    `"a"."b" = ${arg('rls.a')}`,
    `"a" = ${arg('rls.a')} and "b" = ${arg('rls.b')} and`,
    `"a" = (select nullif(current_setting('rls.a' 'x', true), '')::integer)`,
    `"a" = (select nullif(current_setting('rls.a'\n'x', true), '')::integer)`,
  ];
  expect(refused.filter(eligible)).toEqual([]);
});

// Attack (regression check of the fix): condition args of every type the package writes, on all commands and both kinds, must still be proven on the second run.
it('S23 Permissive/Restrictive({ conditionArgs }) on every condition type (text, uuid, bigint, ...): second run probed: false', async () => {
  const { Restrictive } = await import('../../src');
  const types = ['smallint', 'integer', 'bigint', 'numeric', 'real', 'double precision', 'text', 'uuid', 'boolean', 'timestamptz', 'date', 'timestamp'];
  const col = (t: string) => `c_${t.replace(' ', '_')}`;
  const args = types.map((t) => ConditionArg({ comparatorName: col(t), type: t }));
  await db.query(`create table public.typed (id integer primary key, ${types.map((t) => `${col(t)} ${t}`).join(', ')}); alter table public.typed owner to "${db.roles.owner}"`);
  const policies: Policy[] = [
    ...args.map((a, i) => Permissive({ conditionArgs: [a], cmd: Command.select, customPolicyName: `p${i}` })),
    Permissive({ conditionArgs: [args[6], args[7]], cmd: Command.all, customPolicyName: 'both' }),
    Restrictive({ conditionArgs: [args[2]], cmd: Command.insert, customPolicyName: 'big' }),
    Permissive({ conditionArgs: [args[7]], cmd: Command.update, customPolicyName: 'upd', to: db.roles.app }),
  ];
  const typed = new EntitySchema<Record<string, unknown>>({
    name: 'Typed', tableName: 'typed',
    properties: { id: { type: 'integer', primary: true }, ...Object.fromEntries(types.map((t) => [col(t), { type: 'string', columnType: t, nullable: true }])) } as never,
    rls: { policies },
  } as never);
  const orm = await MikroORM.init(withRls(counter.installIn({ clientUrl: db.ownerUrl, entities: [typed], pool: { min: 0, max: 1 } })));
  orms.push(orm);
  const first = await run(orm);
  expect(first.operations.length).toBeGreaterThan(0);
  expect(await run(orm)).toEqual({ operations: [], probed: false });
});

// Attack: a superuser's event trigger on CREATE POLICY rewrites every new policy (the probe's too) to USING (true): the fingerprint must do what the probe does.
it('S24 superuser event trigger on CREATE POLICY rewrites new policies to USING (true): the fingerprint does what the probe does (both fooled alike)', async () => {
  await db.query(`create function public.open_new() returns event_trigger language plpgsql as $$
    declare r record; begin
      for r in select p.polname, p.polrelid::regclass as rel from pg_event_trigger_ddl_commands() c join pg_policy p on p.oid = c.objid where c.command_tag = 'CREATE POLICY' loop
        execute format('alter policy %I on %s using (true)', r.polname, r.rel);
      end loop;
    end $$;
    create event trigger open_new on ddl_command_end when tag in ('CREATE POLICY') execute function public.open_new()`);
  await createSchema(await ownerOrm(tenantPolicy));
  const orm = await ownerOrm(tenantPolicy);
  const created = await run(orm);
  const fingerprinted = await run(orm);
  const qual = (await live())[0].qual;
  await resetComments();
  const probed = await run(orm);
  await db.query(`drop event trigger open_new`);
  expect({ created: created.probed, qual }).toEqual({ created: expect.any(Boolean), qual: 'true' }); // createSchema made the policy; the trigger opened it
  expect(fingerprinted.operations).toEqual(probed.operations);
  expect(probed.operations).toEqual([]); // the probe's policy is opened too: neither sees it (not the fingerprint's doing)
});

// Attack (regression check of the fix): a customExpr that renders exactly as condition args (column() = arg) is still proven, as the README says.
it('S25 customExpr column(\'tenant\') = arg and column(\'account_id\') = arg is proven on the second run (probed: false)', async () => {
  const { column } = await import('../../src');
  const p = [Permissive({ conditionArgs: [tenant, accountId], cmd: Command.all, customPolicyName: 'same',
    customExpr: (t, id) => sql`${column('tenant')} = ${t} and ${column('account_id')} = ${id}` })];
  await createSchema(await ownerOrm(p));
  const orm = await ownerOrm(p);
  await run(orm);
  expect(await run(orm)).toEqual({ operations: [], probed: false });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EntitySchema, type EntityName, type MikroORM } from '@mikro-orm/core';
import { MikroORM as PgMikroORM, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Command, ConditionArg, Permissive, Restrictive, withRls, type Policy } from '../../src';
import {
  RlsPolicyAssertionError,
  expectBypassSeesEverything,
  expectCanDelete,
  expectCanInsert,
  expectCanSelect,
  expectCanUpdate,
  expectCannotDelete,
  expectCannotInsert,
  expectCannotSelect,
  expectCannotUpdate,
  expectNoContextSeesNothing,
  initAppOrm,
  seedAsOwner,
} from '../../src/testing';
import { createSchema } from '../support/schema-generator';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { TEST_ROLES } from '../support/test-roles';

// The policy test kit (mikro-orm-rls/testing) against real PostgreSQL, as the unprivileged application
// role: each check passes where the policies allow what it claims and fails, with what was expected, what
// happened and the policies that apply, where they do not; it leaves nothing behind; and the three policy
// mistakes the issue lists fail a check with a message that names the cause.

const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const teamId = ConditionArg({ comparatorName: 'team_id', type: 'integer' });

interface Note {
  id: number;
  accountId: number;
  teamId: number;
  title: string;
  body: string;
}

function noteEntity(policies: Policy[]) {
  return new EntitySchema<Note>({
    name: 'Note',
    tableName: 'note',
    properties: {
      id: { type: 'integer', primary: true },
      accountId: { type: 'integer' },
      teamId: { type: 'integer' },
      title: { type: 'string' },
      body: { type: 'string' },
    },
    // No policies: no `rls` at all, as an entity whose policies come from hand-written migrations.
    ...(policies.length > 0 && { rls: { policies } }),
  });
}

/** What the model should be: each account reads and writes its own notes. */
const OWN = [Permissive({ conditionArgs: [accountId], cmd: Command.all, customPolicyName: 'own' })];

let db: TestDatabase;
const orms: MikroORM[] = [];
afterEach(async () => {
  for (const orm of orms.splice(0)) await orm.close(true);
  await db?.drop();
});

const options = (policies: Policy[], clientUrl: string) =>
  withRls({ driver: PostgreSqlDriver, clientUrl, entities: [noteEntity(policies)], allowGlobalContext: true }, { bypassRole: TEST_ROLES.bypass, context: undefined as never });

/** Tables with the policies, seeded with notes 1 and 2 of account 1 (team 10), 3 of account 2 (team 10), 4 of account 3 (team 20). */
async function setUp(policies: Policy[]): Promise<MikroORM> {
  db = await createTestDatabase();
  const owner = await PgMikroORM.init(options(policies, db.ownerUrl));
  orms.push(owner);
  await createSchema(owner);
  await seedAsOwner(owner, (em) => {
    em.create('Note', { id: 1, accountId: 1, teamId: 10, title: 'one', body: '' });
    em.create('Note', { id: 2, accountId: 1, teamId: 10, title: 'two', body: '' });
    em.create('Note', { id: 3, accountId: 2, teamId: 10, title: 'three', body: '' });
    em.create('Note', { id: 4, accountId: 3, teamId: 20, title: 'four', body: '' });
  });
  const app = await initAppOrm(options(policies, db.appUrl) as never, db.appUrl);
  orms.push(app);
  await db.assertAppRoleIsUnprivileged();
  return app;
}

const noteCount = async () => Number((await db.query('select count(*) as n from note'))[0].n);

/** The assertion a check threw (failing the test if it threw none). */
async function failureOf(check: Promise<void>): Promise<RlsPolicyAssertionError> {
  const error = await check.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RlsPolicyAssertionError);
  return error as RlsPolicyAssertionError;
}

/** The entity by name: each test declares its own schema of it. */
const NOTE: EntityName<Note> = 'Note';
const as1 = { as: { account_id: 1 }, entity: NOTE };

describe('on correct policies, each check passes where it should and fails where it should not', () => {
  it('select: exactly these ids, every row of a filter, none of these rows', async () => {
    const orm = await setUp(OWN);
    await expectCanSelect(orm, { ...as1, ids: [1, 2] });
    await expectCanSelect(orm, { ...as1, where: { title: 'one' } });
    await expectCannotSelect(orm, { ...as1, ids: [3, 4] });
    await expectCannotSelect(orm, { ...as1, where: { accountId: 2 } });
    const wrong = await failureOf(expectCanSelect(orm, { ...as1, ids: [1, 2, 3] }));
    expect(wrong.message).toContain('as {"account_id":1} on Note: expected to see exactly the rows [1, 2, 3], but saw [1, 2].');
    expect(wrong.message).toContain('Policies on public.note that apply to SELECT for this role (pg_policies):');
    expect(wrong.message).toContain(`own_all: permissive for all to public using ((account_id = ( SELECT (NULLIF(current_setting('rls.account_id'::text, true), ''::text))::integer AS "nullif")))`);
    expect({ expected: wrong.expected, actual: wrong.actual }).toEqual({ expected: [1, 2, 3], actual: [1, 2] });
    // Too few rows: no "FOR ALL widens SELECT" advice, which is about too many.
    expect(wrong.message).not.toContain('A FOR ALL policy applies to SELECT too');
    const hidden = await failureOf(expectCanSelect(orm, { ...as1, where: { teamId: 10 } }));
    expect(hidden.message).toContain('expected to see every row matching {"teamId":10} ([1, 2, 3]), but saw [1, 2].');
    const seen = await failureOf(expectCannotSelect(orm, { ...as1, ids: [2, 3] }));
    expect(seen.message).toContain('expected to see none of the rows [2, 3], but saw [2].');
  });

  it('insert: its own row is accepted, another account\'s refused by row-level security; neither is left behind', async () => {
    const orm = await setUp(OWN);
    await expectCanInsert(orm, { ...as1, data: { id: 5, accountId: 1, teamId: 10, title: 'new', body: '' } });
    await expectCannotInsert(orm, { ...as1, data: { id: 5, accountId: 2, teamId: 10, title: 'theirs', body: '' } });
    expect(await noteCount()).toBe(4);
    const accepted = await failureOf(expectCannotInsert(orm, { ...as1, data: { id: 5, accountId: 1, teamId: 10, title: 'mine', body: '' } }));
    expect(accepted.message).toContain('expected row-level security to refuse inserting {"id":5,"accountId":1,"teamId":10,"title":"mine","body":""}, but PostgreSQL accepted it.');
    const refused = await failureOf(expectCanInsert(orm, { ...as1, data: { id: 5, accountId: 2, teamId: 10, title: 'theirs', body: '' } }));
    // MikroORM 6 also names the statement (`, on: insert into ...`); MikroORM 7's errors do not carry it.
    expect(refused.message).toContain('but PostgreSQL refused: new row violates row-level security policy for table "note" (SQLSTATE 42501)');
    expect(refused.message).toContain('Policies on public.note that apply to INSERT and SELECT for this role (pg_policies):');
    expect(await noteCount()).toBe(4);
  });

  it('a refusal that is not row-level security\'s fails cannotInsert: it would hide what the policies do', async () => {
    const orm = await setUp(OWN);
    const duplicate = await failureOf(expectCannotInsert(orm, { ...as1, data: { id: 1, accountId: 1, teamId: 10, title: 'again', body: '' } }));
    expect(duplicate.message).toContain('but it failed for another reason than row-level security: duplicate key value violates unique constraint "note_pkey" (SQLSTATE 23505)');
    // MikroORM's own refusal (a required property missing) keeps its words and is not blamed on PostgreSQL.
    const invalid = await failureOf(expectCanInsert(orm, { ...as1, data: { id: 6, accountId: 1, teamId: 10, body: '' } as never }));
    expect(invalid.message).toMatch(/expected to insert \{"id":6,"accountId":1,"teamId":10,"body":""\}, but MikroORM refused it before sending it: .*title/);
    expect(invalid.message).not.toContain('PostgreSQL refused');
  });

  it('update and delete: its own rows are reached, another account\'s are not; nothing is left changed', async () => {
    const orm = await setUp(OWN);
    await expectCanUpdate(orm, { ...as1, ids: [1, 2], data: { title: 'renamed' } });
    await expectCannotUpdate(orm, { ...as1, ids: [3], data: { title: 'hijacked' } });
    // WITH CHECK: its own row moved to another account is refused.
    await expectCannotUpdate(orm, { ...as1, ids: [1], data: { accountId: 2 } });
    await expectCanDelete(orm, { ...as1, where: { accountId: 1 } });
    await expectCannotDelete(orm, { ...as1, ids: [3, 4] });
    expect(await db.query('select id, account_id, title from note order by id')).toEqual([
      { id: 1, account_id: 1, title: 'one' },
      { id: 2, account_id: 1, title: 'two' },
      { id: 3, account_id: 2, title: 'three' },
      { id: 4, account_id: 3, title: 'four' },
    ]);
    const partial = await failureOf(expectCanUpdate(orm, { ...as1, ids: [2, 3], data: { title: 'x' } }));
    expect(partial.message).toContain("expected to update the rows [2, 3] to {\"title\":\"x\"}, but only 1 of 2 were reached (the others are not visible to UPDATE's USING).");
    const reached = await failureOf(expectCannotDelete(orm, { ...as1, ids: [2, 3] }));
    expect(reached.message).toContain('expected row-level security to stop it from doing delete the rows [2, 3], but 1 of them were deleted.');
  });

  it('bypass sees every row; without a context the application role sees none', async () => {
    const orm = await setUp(OWN);
    await expectBypassSeesEverything(orm, { entity: NOTE, ids: [1, 2, 3, 4] });
    await expectNoContextSeesNothing(orm, { entity: NOTE });
    const missing = await failureOf(expectBypassSeesEverything(orm, { entity: NOTE, ids: [1, 2, 3] }));
    expect(missing.message).toContain('As bypass on Note: expected to see exactly the rows [1, 2, 3], but saw [1, 2, 3, 4]. [4] is a row of the table that ids does not list: pass every seeded id.');
    const unknown = await failureOf(expectBypassSeesEverything(orm, { entity: NOTE, ids: [1, 2, 3, 4, 98, 99] }));
    expect(unknown.message).toContain('[98, 99] are not in the table at all (bypass sees every row there is): check the seed or the ids.');
    expect(unknown.message).not.toContain('does not list');
  });

  it('checks of rows that do not exist are refused: they would prove nothing', async () => {
    const orm = await setUp(OWN);
    await expect(expectCannotSelect(orm, { ...as1, ids: [3, 99] })).rejects.toThrow('mikro-orm-rls/testing: Note has no ids [99], so the check would prove nothing. Seed them first (seedAsOwner).');
    await expect(expectCanUpdate(orm, { ...as1, where: { title: 'none' }, data: { body: 'x' } })).rejects.toThrow('Note has no rows matching {"title":"none"}');
    // expectCanSelect with ids refused the same way (it blamed a FOR ALL policy: "Likely cause: ...")
    await expect(expectCanSelect(orm, { ...as1, ids: [98, 99] })).rejects.toThrow('mikro-orm-rls/testing: Note has no ids [98, 99], so the check would prove nothing. Seed them first (seedAsOwner).');
    await expect(expectCanSelect(orm, { ...as1, ids: [1, 99] })).rejects.toThrow('Note has no ids [99], so the check would prove nothing.');
    for (const check of [expectCanUpdate, expectCannotUpdate]) await expect(check(orm, { ...as1, ids: [99], data: { body: 'x' } })).rejects.toThrow('Note has no ids [99]');
    for (const check of [expectCanDelete, expectCannotDelete]) await expect(check(orm, { ...as1, ids: [99] })).rejects.toThrow('Note has no ids [99]');
  });
});

describe('fixtures', () => {
  it('initAppOrm refuses a role row-level security never restricts', async () => {
    db = await createTestDatabase();
    await expect(initAppOrm(options(OWN, db.superUrl) as never, db.superUrl)).rejects.toThrow(/is a superuser, which row-level security never restricts, so policy checks as it prove nothing/);
  });

  it('seedAsOwner puts FORCE back: the owner is subject to the policies again after seeding', async () => {
    await setUp(OWN);
    expect(await db.query(`select relforcerowsecurity as forced from pg_class where relname = 'note'`)).toEqual([{ forced: true }]);
    expect(await noteCount()).toBe(4);
  });
});

describe("the issue's policy mistakes fail a check with a message that names the cause", () => {
  it('permissive policies are OR-ed: a second permissive policy meant to narrow widens access', async () => {
    const orm = await setUp([
      Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own' }),
      // Meant as "and only within the team": as a permissive policy it lets the whole team in.
      Permissive({ conditionArgs: [teamId], cmd: Command.select, customPolicyName: 'same_team' }),
    ]);
    const failure = await failureOf(expectCannotSelect(orm, { as: { account_id: 1, team_id: 10 }, entity: NOTE, ids: [3] }));
    expect(failure.message).toContain('expected to see none of the rows [3], but saw [3].');
    expect(failure.message).toMatch(/own_select: permissive for select to public using/);
    expect(failure.message).toMatch(/same_team_select: permissive for select to public using/);
    expect(failure.message).toContain('Permissive policies are OR-ed: a row passes if any one of own_select, same_team_select lets it through. Make the narrowing one Restrictive (AND-ed)');
    // The README ("Testing your policies") shows this very message.
    const shown = /## Testing your policies[\s\S]*?```text\n([\s\S]*?)\n```/.exec(readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8'))?.[1];
    expect(failure.message).toBe(shown);
    // The fix the message proposes passes the check.
    await orm.close(true);
    const fixed = await setUp([
      Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own' }),
      Restrictive({ conditionArgs: [teamId], cmd: Command.select, customPolicyName: 'same_team' }),
    ]);
    await expectCannotSelect(fixed, { as: { account_id: 1, team_id: 10 }, entity: NOTE, ids: [3] });
  });

  it('a FOR ALL policy widens SELECT', async () => {
    const orm = await setUp([
      Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'read_own' }),
      // Meant for writes within the team; FOR ALL makes the team's notes readable too.
      Permissive({ conditionArgs: [teamId], cmd: Command.all, customPolicyName: 'team_writes' }),
    ]);
    const failure = await failureOf(expectCannotSelect(orm, { as: { account_id: 1, team_id: 10 }, entity: NOTE, ids: [3] }));
    expect(failure.message).toContain('A FOR ALL policy applies to SELECT too: team_writes_all.');
  });

  it('lists hand-written policies on a table whose entity declares none (from pg_policies)', async () => {
    const orm = await setUp([]);
    // Policies from a hand-written migration: the explorer does not describe the table, the kit still names them.
    await db.query(`alter table note enable row level security; alter table note force row level security;
      create policy hand_team on note for select using (team_id = 10);
      create policy hand_insert on note for insert with check (true)`);
    const failure = await failureOf(expectCannotSelect(orm, { as: {}, entity: NOTE, ids: [3] }));
    expect(failure.message).toContain('expected to see none of the rows [3], but saw [3].');
    expect(failure.message).toContain('hand_team: permissive for select to public using ((team_id = 10))');
    expect(failure.message).not.toContain('hand_insert');
  });

  it('a write policy without a SELECT policy breaks RETURNING', async () => {
    const orm = await setUp([Permissive({ conditionArgs: [accountId], cmd: Command.insert, customPolicyName: 'write_own' })]);
    const failure = await failureOf(expectCanInsert(orm, { as: { account_id: 1 }, entity: NOTE, data: { accountId: 1, teamId: 10, title: 'new', body: '' } }));
    expect(failure.message).toContain('PostgreSQL refused: new row violates row-level security policy for table "note" (SQLSTATE 42501)');
    expect(failure.message).toContain('write_own_insert: permissive for insert to public with check');
    expect(failure.message).toContain('No permissive SELECT (or ALL) policy applies: MikroORM writes with RETURNING');
  });
});

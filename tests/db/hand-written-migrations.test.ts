import { EntitySchema } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { Command, ConditionArg, Permissive, Restrictive, column, dropPolicies, sql, withRls, type Policy } from '../../src';
import { rlsMigration, type RlsMigrationSql } from '../../src/migrations';
import { migratorOf } from '../support/migrator';
import { rlsState } from '../support/rls-state';
import { createSchema } from '../support/schema-generator';
import { createTestDatabase, grantSchemaUsage, type TestDatabase } from '../support/test-database';

// The SQL of the hand-written migration helpers (mikro-orm-rls/migrations), run on PostgreSQL as the
// owner: each step's up then down leaves the catalog exactly as before; the steps that create what the
// entities declare leave nothing for migration:check (the planner, against the live catalog); a mistake
// is refused with a message and changes nothing. The CLI round trip is tests/cli/hand-written-migrations-cli.test.ts.

const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
/** No customPolicyName: named after its place in rls.policies (`note_permissive_1_<command>`). */
const ownNotes = Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.update] });
const notPinned = Restrictive({ conditionArgs: [accountId], cmd: Command.delete, customExpr: (id) => sql`${column('account_id')} = ${id} and not ${column('pinned')}`, customPolicyName: 'unpinned_only' });
const orderTenant = Permissive({ conditionArgs: [accountId], cmd: Command.all, customPolicyName: 'order_tenant' });

function entities(declared: boolean): EntitySchema[] {
  const note = new EntitySchema<any>({
    name: 'Note',
    tableName: 'note',
    properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' }, pinned: { type: 'boolean', default: false } },
    ...(declared ? { rls: { policies: [ownNotes, notPinned] as Policy[] } } : {}),
  });
  const order = new EntitySchema<any>({
    name: 'Order',
    schema: 'tenant data',
    tableName: 'order',
    properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' } },
    ...(declared ? { rls: { policies: [orderTenant], force: false } } : {}),
  });
  return [note, order];
}

const TABLES = ['note', 'order'];
const ORDER = { schema: 'tenant data', name: 'order' };
let db: TestDatabase;
let orm: MikroORM;

/** Runs statements as the owner in one transaction, as a migration does; rolled back when one fails. */
async function runAsMigration(statements: readonly string[]): Promise<void> {
  const client = new Client({ connectionString: db.ownerUrl });
  await client.connect();
  try {
    await client.query('begin');
    try {
      for (const statement of statements) await client.query(statement);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      throw error;
    }
  } finally {
    await client.end();
  }
}

beforeEach(async () => {
  db = await createTestDatabase();
  // The tables exist, without RLS: created by an ORM that declares no policies.
  const plain = await MikroORM.init({ clientUrl: db.ownerUrl, entities: entities(false) });
  try {
    await createSchema(plain);
  } finally {
    await plain.close(true);
  }
  await grantSchemaUsage(db, 'tenant data');
  orm = await MikroORM.init(withRls({ clientUrl: db.ownerUrl, entities: entities(true), migrations: { snapshot: false } }, { prefix: 'app' }));
});

afterEach(async () => {
  await orm?.close(true);
  await db?.drop();
});

/** Every helper's step, as a hand-written migration would use it. */
function everyStep(): Record<string, RlsMigrationSql> {
  const rls = rlsMigration(orm.config);
  return {
    enableRls: rls.enableRls('note'),
    'enableRls without force': rls.enableRls(ORDER, { force: false }),
    createPolicy: rls.createPolicy('note', ownNotes, { position: 1 }),
    'createPolicy (customPolicyName)': rls.createPolicy('note', notPinned),
    declaredRls: rls.declaredRls(ORDER),
    steps: rls.steps(rls.enableRls('note'), rls.createPolicy('note', ownNotes, { position: 1 }), rls.createPolicy('note', notPinned)),
  };
}

const STEP_NAMES = ['enableRls', 'enableRls without force', 'createPolicy', 'createPolicy (customPolicyName)', 'declaredRls', 'steps'];

it('every step is covered by the round trip below', () => {
  expect(Object.keys(everyStep())).toEqual(STEP_NAMES);
});

it.each(STEP_NAMES)(
  '%s: up changes the catalog, down then leaves it exactly as before',
  async (name) => {
    const step = everyStep()[name];
    const before = await rlsState(db, TABLES);
    await runAsMigration(step.up);
    expect(await rlsState(db, TABLES)).not.toEqual(before);
    await runAsMigration(step.down);
    expect(await rlsState(db, TABLES)).toEqual(before);
  },
);

it('disableRls and dropPolicy are the inverses of enableRls and createPolicy: from the declared state and back', async () => {
  const rls = rlsMigration(orm.config);
  await runAsMigration(rls.steps(rls.declaredRls('note'), rls.declaredRls(ORDER)).up);
  const declared = await rlsState(db, TABLES);
  const undo = rls.steps(rls.dropPolicy('note', notPinned), rls.dropPolicy('note', ownNotes, { position: 1 }), rls.disableRls('note'));
  await runAsMigration(undo.up);
  const noteState = await rlsState(db, ['note']);
  expect(noteState.policies).toEqual([]);
  expect(noteState.flags).toEqual([{ relname: 'note', enabled: false, forced: false }]);
  await runAsMigration(undo.down);
  expect(await rlsState(db, TABLES)).toEqual(declared);
});

it('the SQL is what generated migrations write: the context variable prefix of withRls, quoted names, the managed-by comment', () => {
  const rls = rlsMigration(orm.config);
  expect(rls.createPolicy('note', ownNotes, { position: 1 })).toEqual({
    up: [
      `create policy "note_permissive_1_select" on "public"."note" as permissive for select to public using ("account_id" = (select nullif(current_setting('app.account_id', true), '')::integer))`,
      `comment on policy "note_permissive_1_select" on "public"."note" is 'managed by mikro-orm-rls'`,
      `create policy "note_permissive_1_update" on "public"."note" as permissive for update to public using ("account_id" = (select nullif(current_setting('app.account_id', true), '')::integer)) with check ("account_id" = (select nullif(current_setting('app.account_id', true), '')::integer))`,
      `comment on policy "note_permissive_1_update" on "public"."note" is 'managed by mikro-orm-rls'`,
    ],
    down: [`drop policy "note_permissive_1_update" on "public"."note"`, `drop policy "note_permissive_1_select" on "public"."note"`],
  });
  expect(rls.enableRls(ORDER)).toEqual({
    up: [`alter table "tenant data"."order" enable row level security`, `alter table "tenant data"."order" force row level security`],
    down: [`alter table "tenant data"."order" no force row level security`, `alter table "tenant data"."order" disable row level security`],
  });
});

it('steps that create what the entities declare leave migration:check clean; without them it is not', async () => {
  const migrator = migratorOf(orm);
  expect(await migrator.checkMigrationNeeded()).toBe(true);
  const rls = rlsMigration(orm.config);
  const handWritten = rls.steps(
    rls.enableRls('note'),
    rls.createPolicy('note', ownNotes, { position: 1 }),
    rls.createPolicy('note', notPinned),
    rls.enableRls(ORDER, { force: false }),
    rls.createPolicy(ORDER, orderTenant),
  );
  await runAsMigration(handWritten.up);
  expect(await migrator.checkMigrationNeeded()).toBe(false);
  // And the same catalog as the package's own way of applying the declarations.
  const byHelpers = await rlsState(db, TABLES);
  await dropPolicies(orm);
  await runAsMigration(rls.steps(rls.declaredRls('note'), rls.declaredRls(ORDER)).up);
  expect(await rlsState(db, TABLES)).toEqual(byHelpers);
});

it('a policy at the wrong position leaves migration:check failing: the helpers render names, they do not guess them', async () => {
  const rls = rlsMigration(orm.config);
  await runAsMigration(rls.steps(rls.declaredRls(ORDER), rls.enableRls('note'), rls.createPolicy('note', ownNotes, { position: 2 }), rls.createPolicy('note', notPinned)).up);
  expect(await migratorOf(orm).checkMigrationNeeded()).toBe(true);
});

describe('mistakes', () => {
  it('an unknown table is refused before any SQL, naming the entity tables', () => {
    const rls = rlsMigration(orm.config);
    expect(() => rls.enableRls('notes')).toThrow(
      'enableRls: public.notes is not a table of this ORM\'s entities, so migration:check could not see what the step does. The entity tables are: public.note, tenant data.order.',
    );
    expect(() => rls.createPolicy('order', orderTenant)).toThrow(/public\.order is not a table of this ORM's entities.*as \{ schema, name \}/);
  });

  it('a policy without customPolicyName needs its position; a position must be 1 or more, and not beside a customPolicyName; a policy must be a Permissive/Restrictive; steps take steps', () => {
    const rls = rlsMigration(orm.config);
    expect(() => rls.createPolicy('note', ownNotes)).toThrow(/named after its place in the entity's rls.policies \("note_permissive_<position>_<command>"\)\. Pass \{ position \}/);
    expect(() => rls.dropPolicy('note', ownNotes, { position: 0 })).toThrow(/position must be the policy's 1-based place/);
    expect(() => rls.createPolicy('note', { cmd: Command.select } as never)).toThrow(/pass a policy made by Permissive\(\{ \.\.\. \}\) or Restrictive/);
    expect(() => rls.enableRls(42 as never)).toThrow(/the table must be a table name \('note'\) or \{ schema, name \}/);
    // A position that a customPolicyName would make meaningless, and a step that is not one, are refused too.
    expect(() => rls.createPolicy('note', notPinned, { position: 2 })).toThrow('createPolicy: the policy is named by its customPolicyName ("unpinned_only"), so { position: 2 } would be ignored. Pass one or the other.');
    expect(() => rls.steps(rls.enableRls('note'), 'alter table note enable row level security' as never)).toThrow(
      'steps: argument 2 is "alter table note enable row level security", not a step. Pass what the helpers return (rls.enableRls(...), rls.createPolicy(...), ...); for SQL of your own, call this.addSql(...) around them.',
    );
  });

  it('a table whose entity declares nothing has no declared RLS to create', async () => {
    const bare = await MikroORM.init(withRls({ clientUrl: db.ownerUrl, entities: entities(false) }));
    try {
      expect(() => rlsMigration(bare.config).declaredRls('note')).toThrow('declaredRls: the entity of public.note declares no policies. Declare them in its rls option first.');
    } finally {
      await bare.close(true);
    }
  });

  it('an ORM not configured with withRls is refused', async () => {
    const plain = await MikroORM.init({ clientUrl: db.ownerUrl, entities: entities(false) });
    try {
      expect(() => rlsMigration(plain.config)).toThrow(/not configured for row-level security. Wrap its options: MikroORM.init\(withRls/);
    } finally {
      await plain.close(true);
    }
  });

  it('a policy naming a column the table lacks is refused by PostgreSQL and the migration changes nothing', async () => {
    const rls = rlsMigration(orm.config);
    const typo = Permissive({ conditionArgs: [accountId], cmd: Command.select, customExpr: (id) => sql`${column('acount_id')} = ${id}`, customPolicyName: 'typo' });
    const before = await rlsState(db, TABLES);
    await expect(runAsMigration(rls.steps(rls.enableRls('note'), rls.createPolicy('note', typo)).up)).rejects.toThrow('column "acount_id" does not exist');
    expect(await rlsState(db, TABLES)).toEqual(before);
  });
});

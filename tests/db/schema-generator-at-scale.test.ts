import { MikroORM } from '@mikro-orm/postgresql';
import { dropPolicies, withRls } from '../../src';
import { readLockTableSettings } from '../../src/core/catalog/lock-budget';
import { splitSqlStatements } from '../../src/core/plan/split-statements';
import { manyTableEntities, manyTableStates } from '../fixtures/many-tables';
import { createSchema, dropSchema, refreshSchema, updateSchema } from '../support/schema-generator';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { oneScaleTestAtATime } from '../support/one-scale-test-at-a-time';

// orm.schema's create, update, drop and refresh (schema:create / schema:update / schema:drop /
// schema:fresh) on 3,000 tables of four policies, on a server with PostgreSQL's default lock table: the
// policies in one transaction would need about 15,000 locks (issue 14: `out of shared memory`), where
// MikroORM alone creates the tables one per transaction; its drop SQL drops every table in one
// transaction, about 15 locks each with four policies (11 without).

const TABLES = 3000;
const POLICIES = ['own_delete', 'own_insert', 'own_select', 'own_update'];

let db: TestDatabase;
let orm: MikroORM;

const tableStates = () => manyTableStates(db);

/** The tables that do not have RLS on and forced with exactly the four declared policies. */
const wrongTables = async () => {
  const states = await tableStates();
  expect(states).toHaveLength(TABLES);
  return states.filter((s) => !s.enabled || !s.forced || JSON.stringify(s.policies) !== JSON.stringify(POLICIES));
};

// Before the hooks below: the other scale files wait while this one runs.
oneScaleTestAtATime();

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await MikroORM.init(withRls({ clientUrl: db.ownerUrl, entities: manyTableEntities(TABLES), pool: { min: 0, max: 1 } }) as never);
}, 300_000);
afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
});

it('the server under test has the default lock table, which cannot hold 3,000 tables of policies in one transaction', async () => {
  const settings = await readLockTableSettings({ query: (sql, params) => db.query(sql, params as unknown[]) });
  expect(settings.maxLocksPerTransaction).toBeLessThanOrEqual(64);
  expect(settings.maxLocksPerTransaction * (settings.maxConnections + settings.maxPreparedTransactions)).toBeLessThan(TABLES * (1 + POLICIES.length));
});

it('the create SQL of 3,000 tables holds every statement: the tables, their flags, policies and comments', async () => {
  const statements = splitSqlStatements(await orm.schema.getCreateSchemaSQL());
  const count = (pattern: RegExp) => statements.filter((s) => pattern.test(s)).length;
  expect(count(/^create table /)).toBe(TABLES);
  expect(count(/^alter table .* enable row level security$/)).toBe(TABLES);
  expect(count(/^alter table .* force row level security$/)).toBe(TABLES);
  expect(count(/^create policy /)).toBe(TABLES * POLICIES.length);
  expect(count(/^comment on policy /)).toBe(TABLES * POLICIES.length);
}, 120_000);

it('creates 3,000 tables with their four policies each on a server with the default lock table', async () => {
  await createSchema(orm);
  expect(await wrongTables()).toEqual([]);
}, 600_000);

it('updating brings 3,000 tables without policies back to their four policies each', async () => {
  await dropPolicies(orm);
  expect((await tableStates()).filter((s) => s.enabled || s.policies.length > 0)).toEqual([]);
  await updateSchema(orm);
  expect(await wrongTables()).toEqual([]);
  expect(await orm.schema.getUpdateSchemaSQL()).toBe('');
}, 600_000);

it('refreshing (schema:fresh, refreshDatabase) drops the 3,000 tables with their policies and creates them again', async () => {
  await refreshSchema(orm);
  expect(await wrongTables()).toEqual([]);
}, 900_000);

it('dropping the schema drops all 3,000 tables with their policies', async () => {
  await dropSchema(orm);
  expect(await tableStates()).toEqual([]);
}, 600_000);

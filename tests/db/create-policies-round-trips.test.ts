import { MikroORM } from '@mikro-orm/postgresql';
import { createPolicies, withRls } from '../../src';
import { manyTableEntities, recreateTables } from '../fixtures/many-tables';
import { RoundTripCounter } from '../support/round-trip-counter';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// Round trips of createPolicies, counted on the wire (ReadyForQuery messages): a fixed number per
// transaction, whatever the number of tables in it, because the statements travel together. Both sizes
// fit one transaction on PostgreSQL's default lock table (tests/db/create-policies-at-scale.test.ts has
// thousands of tables, in several).

const SIZES = [20, 120];

interface Counted {
  roundTrips: number;
  /** Messages that carried a CREATE POLICY (the declared ones, or the probes), and how many each carried. */
  createMessages: number[];
  /** Messages that set a savepoint (a probe's, or the one around a batch of statements). */
  savepoints: number;
  operations: number;
}

const databases: TestDatabase[] = [];
const orms: MikroORM[] = [];
afterAll(async () => {
  for (const orm of orms) await orm.close(true);
  for (const db of databases) await db.drop();
});

async function countedRuns(tables: number): Promise<{ fresh: Counted; unchanged: Counted }> {
  const db = await createTestDatabase();
  databases.push(db);
  await recreateTables(db.ownerUrl, tables, 0);
  const counter = new RoundTripCounter();
  let sent: string[] = [];
  counter.onSent((sql) => sent.push(sql));
  const orm = await MikroORM.init(withRls(counter.installIn({ clientUrl: db.ownerUrl, entities: manyTableEntities(tables), pool: { min: 0, max: 1 } })));
  orms.push(orm);
  const run = async (): Promise<Counted> => {
    sent = [];
    let operations = 0;
    const roundTrips = await counter.during(async () => {
      operations = (await createPolicies(orm)).length;
    });
    const createMessages = sent.map((sql) => sql.match(/create policy /g)?.length ?? 0).filter((n) => n > 0);
    const savepoints = sent.filter((sql) => /^savepoint /.test(sql)).length;
    return { roundTrips, createMessages, savepoints, operations };
  };
  return { fresh: await run(), unchanged: await run() };
}

it('makes as many round trips for 120 tables as for 20, with every CREATE POLICY of a run in one message', async () => {
  const [small, large] = [await countedRuns(SIZES[0]), await countedRuns(SIZES[1])];
  for (const [size, { fresh, unchanged }] of [
    [SIZES[0], small],
    [SIZES[1], large],
  ] as const) {
    expect(fresh.operations).toBe(size * 6);
    expect(unchanged.operations).toBe(0);
    // Fresh: the four policies of each table in one message; with nothing to change, no probe at all:
    // the fingerprints in the policies' comments prove them unchanged (no savepoint, no probe's create).
    expect(fresh.createMessages).toEqual([size * 4]);
    expect(unchanged.createMessages).toEqual([]);
    expect(unchanged.savepoints).toBe(0);
  }
  expect(large.fresh.roundTrips).toBe(small.fresh.roundTrips);
  expect(large.unchanged.roundTrips).toBe(small.unchanged.roundTrips);
  // Reading the catalog in a transaction of its own (about eight), then per transaction of changes its
  // BEGIN, savepoint, statements (the fingerprints with them) and COMMIT (and, for policies no fingerprint proves
  // unchanged, the probe's savepoint, message, reading and rollback).
  expect(small.fresh.roundTrips).toBeLessThanOrEqual(14);
  expect(small.unchanged.roundTrips).toBeLessThanOrEqual(18);
}, 120_000);

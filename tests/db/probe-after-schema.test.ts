import type { Queryable } from '../../src/core/catalog/queryable';
import type { TableRlsSpec } from '../../src/core/ddl';
import { PROBE_CHUNK_TABLES, probeAfterSchema } from '../../src/core/plan/probe-after-schema';
import { RlsConfigurationError } from '../../src';
import { ownerClientPerTest } from '../support/owner-client-per-test';

// Planning asks PostgreSQL for the canonical text of the declared policies as they will be after the
// migration's schema statements: chunk by chunk, each in a savepoint rolled back after it, so that a
// migration of thousands of tables never holds more than a chunk's locks, with no error swallowed.
// Against a real database, as the owner, inside one transaction as the migrators run it.

jest.setTimeout(120_000);

const current = ownerClientPerTest({ inTransaction: true });
const client = { query: (text: string, params?: unknown[]) => current().client.query(text, params) };

/** The transaction as a Queryable, noting the most locks this backend held before a savepoint is rolled back. */
function recordingLocks(): { db: Queryable; maxLocks: () => number } {
  let max = 0;
  return {
    db: {
      async query<T>(sql: string, params?: readonly unknown[]): Promise<T[]> {
        if (sql.startsWith('rollback to savepoint')) {
          // Every lock this backend holds, in the shared lock table or in its fast-path slots (PostgreSQL 18
          // sizes both from max_locks_per_transaction and moves more of them to fast path than 15 does).
          max = Math.max(max, (await client.query(HELD_LOCKS)).rows[0].n);
        }
        return (await client.query(sql, params as unknown[] | undefined)).rows as T[];
      },
    },
    maxLocks: () => max,
  };
}

const HELD_LOCKS = `select count(distinct (locktype, database, relation, classid, objid, objsubid))::int as n from pg_locks where pid = pg_backend_pid()`;

/** The locks one table like the test's and its probed policy take, from ten of them in a savepoint rolled back after. */
async function locksPerFixtureTable(): Promise<number> {
  const before = (await client.query(HELD_LOCKS)).rows[0].n;
  await client.query('savepoint per_table');
  for (let i = 0; i < 10; i++) {
    await client.query(`create table "lock_probe_${i}" ("id" serial primary key, "account_id" int not null, "note" text)`);
    await client.query(`create policy "tenant" on "lock_probe_${i}" for select using ("account_id" = 1)`);
  }
  const after = (await client.query(HELD_LOCKS)).rows[0].n;
  await client.query('rollback to savepoint per_table');
  return (after - before) / 10;
}

const queryable: Queryable = { query: async <T>(sql: string, params?: readonly unknown[]) => (await client.query(sql, params as unknown[] | undefined)).rows as T[] };

const tenant = (name: string, using = `"account_id" = 1`): TableRlsSpec => ({
  table: { schema: 'public', name },
  force: true,
  policies: [{ name: 'tenant', permissive: true, command: 'select', roles: ['public'], using, withCheck: null }],
});

it(`probes ${PROBE_CHUNK_TABLES * 2 + 50} new tables chunk by chunk, holding the locks of one chunk at a time, and leaves nothing behind`, async () => {
  const n = PROBE_CHUNK_TABLES * 2 + 50;
  const names = Array.from({ length: n }, (_, i) => `t${i}`);
  const statements = [
    ...names.map((t) => `create table "${t}" ("id" serial primary key, "account_id" int not null, "note" text);`),
    ...names.map((t) => `create index "${t}_account_id_index" on "${t}" ("account_id");`),
    ...names.slice(1).map((t) => `alter table "${t}" add constraint "${t}_fk" foreign key ("id") references "t0" ("id");`),
  ];
  // The first table's policy reads the last one, which only a later chunk creates otherwise.
  const specs = names.map((t, i) => (i === 0 ? tenant(t, `exists (select 1 from "t${n - 1}" where "t${n - 1}"."account_id" = "t0"."account_id")`) : tenant(t)));
  const { db: recording, maxLocks } = recordingLocks();
  const probed = await probeAfterSchema(recording, specs, { statements, defaultSchema: 'public' });
  expect(probed.map((s) => s.table.name)).toEqual(names);
  expect(probed[1].policies[0]).toMatchObject({ name: 'tenant', using: '(account_id = 1)', rendered: { using: '"account_id" = 1' } });
  expect(probed[0].policies[0].using).toBe(`(EXISTS ( SELECT 1\n   FROM t${n - 1}\n  WHERE (t${n - 1}.account_id = t0.account_id)))`);
  // What one table of the fixture costs on this server (the table, its row type, sequence, primary key and
  // its constraint, TOAST table and index: PostgreSQL 18 takes fewer than 15), measured as the probe's
  // locks are counted. The probe holds at most one chunk's (and the table its policy reads) at a time,
  // where all the tables at once would take twice as many and more.
  const perTable = await locksPerFixtureTable();
  expect(perTable).toBeGreaterThanOrEqual(5);
  expect(maxLocks()).toBeGreaterThan(PROBE_CHUNK_TABLES * perTable * 0.9);
  // The probe's own catalog reads add some on top, far fewer than a second chunk would.
  expect(maxLocks()).toBeLessThanOrEqual((PROBE_CHUNK_TABLES + 1) * perTable * 1.2 + 50);
  expect(maxLocks()).toBeLessThan((n * perTable) / 2);
  expect((await client.query(`select count(*)::int as n from pg_class where relname like 't%' and relkind = 'r'`)).rows).toEqual([{ n: 0 }]);
});

it("reports a schema statement PostgreSQL refuses with PostgreSQL's message, SQLSTATE, hint and the statement", async () => {
  const refused = `do $$ begin raise exception 'no room' using errcode = '53200', hint = 'You might need to increase max_locks_per_transaction.'; end $$`;
  const probe = probeAfterSchema(queryable, [tenant('t0')], { statements: ['create table "t0" ("account_id" int);', refused], defaultSchema: 'public' });
  await expect(probe).rejects.toThrow(RlsConfigurationError);
  await expect(probe).rejects.toThrow(`one failed: no room [53200] (hint: You might need to increase max_locks_per_transaction.). The statement: ${refused}.`);
  // The transaction is usable after it: the savepoint was rolled back.
  expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
});

it('says the database is not at the state the migration starts from when a statement meets another schema', async () => {
  await client.query(`create table "t0" ("account_id" int)`);
  const probe = probeAfterSchema(queryable, [tenant('t0')], { statements: ['create table "t0" ("account_id" int);'], defaultSchema: 'public' });
  await expect(probe).rejects.toThrow(/relation "t0" already exists \[42P07\]\. .*not at the state the migration starts from: run the pending migrations \(migration:up\)/);
});

it('names a table that neither exists nor is created by the statements', async () => {
  const probe = probeAfterSchema(queryable, [tenant('t0'), tenant('ghost')], { statements: ['create table "t0" ("account_id" int);'], defaultSchema: 'public' });
  await expect(probe).rejects.toThrow(/Cannot plan the policies of public\.ghost: the table does not exist in the database and this migration's schema statements do not create it/);
});

it("names a policy PostgreSQL rejects, with PostgreSQL's words", async () => {
  const probe = probeAfterSchema(queryable, [tenant('t0', '"acount_id" = 1')], { statements: ['create table "t0" ("account_id" int);'], defaultSchema: 'public' });
  await expect(probe).rejects.toThrow(/PostgreSQL rejected policy "tenant" on public\.t0: column "acount_id" does not exist/);
});

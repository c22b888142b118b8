import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { Command, ConditionArg, Permissive, RlsConfigurationError, RlsDeclarationError, createPolicies, sql, withRls, type Policy } from '../../src';
import { MANAGED_POLICY_COMMENT } from '../../src/core/ddl/statements';
import { applyDeclaredState } from '../../src/core/plan/apply-declared-state';
import { rlsSettingsOf } from '../../src/core/settings/rls-settings';
import { MANY_TABLES_SCHEMA, manyTableEntities, ownRows, recreateTables, tableName } from '../fixtures/many-tables';
import { inOrmTransaction } from '../support/in-orm-transaction';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// What createPolicies leaves when PostgreSQL refuses a statement, with the work in several transactions
// (a small lock budget, so that 30 tables take three) and in one: the refused statement is named with
// PostgreSQL's own error, its transaction is rolled back, the ones before stay, no table is left with
// part of its policies, and a run after the fix does the rest.

const TABLES = 30;
// A fresh table of four policies counts 6 locks (two per table, one per COMMENT ON POLICY).
const TEN_TABLES = 60;
const POLICIES = ['own_delete', 'own_insert', 'own_select', 'own_update'];
const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });

const databases: TestDatabase[] = [];
const orms: MikroORM[] = [];
afterAll(async () => {
  for (const orm of orms) await orm.close(true);
  for (const db of databases) await db.drop();
});

async function freshTables(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  await recreateTables(db.ownerUrl, TABLES, 0);
  return db;
}

async function ownerOrm(db: TestDatabase, policiesOf?: (i: number) => Policy[], connections = 1): Promise<MikroORM> {
  const orm = await MikroORM.init(withRls({ clientUrl: db.ownerUrl, entities: manyTableEntities(TABLES, policiesOf), pool: { min: 0, max: connections } }));
  orms.push(orm);
  return orm;
}

/** createPolicies, with the lock budget of a transaction given. */
function createPoliciesWithBudget(orm: MikroORM, lockBudget: number) {
  const settings = rlsSettingsOf(orm.config);
  const state = { desired: settings.tables, entityTables: settings.entityTables, manageAllPolicies: settings.manageAllPolicies };
  return applyDeclaredState((work) => inOrmTransaction(orm.em, work), state, { lockBudget });
}

/** The deadlocks PostgreSQL has counted in the test's database (its statistics, read afresh). */
async function deadlocks(db: TestDatabase): Promise<number> {
  const [row] = await db.query<{ n: number }>(`select pg_stat_clear_snapshot(), (select deadlocks::int from pg_stat_database where datname = current_database()) as n`);
  return row.n;
}

/** The managed policies of each table, by table name. */
async function policiesByTable(db: TestDatabase): Promise<Record<string, string[]>> {
  const rows = await db.query<{ table: string; policies: string[] }>(
    `select c.relname as table, array(select p.polname::text from pg_policy p where p.polrelid = c.oid and starts_with(obj_description(p.oid, 'pg_policy'), $2) order by 1) as policies
     from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relkind = 'r' order by 1`,
    [MANY_TABLES_SCHEMA, MANAGED_POLICY_COMMENT],
  );
  return Object.fromEntries(rows.map((r) => [r.table, r.policies]));
}

const tablesWith = (policies: Record<string, string[]>, expected: string[]) =>
  Object.entries(policies)
    .filter(([, names]) => JSON.stringify(names) === JSON.stringify(expected))
    .map(([table]) => table);
const names = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => tableName(from + i));

/** Table `name` reads a column it does not have: PostgreSQL rejects its policies. */
const brokenAt = (name: string) => (i: number) =>
  tableName(i) === name
    ? [Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.insert, Command.update, Command.delete], customExpr: (id) => sql`${sql.raw('no_such_column')} = ${id}`, customPolicyName: 'own' })]
    : [ownRows];

it('keeps the transactions before a rejected policy, rolls back its own whole, names the policy, and a run after the fix does the rest', async () => {
  const db = await freshTables();
  const fixed = await ownerOrm(db);
  // The tables in the order of the declarations, which the transactions follow: the 26th is in the third.
  const order = rlsSettingsOf(fixed.config).tables.map((t) => t.table.name);
  const broken = await ownerOrm(db, brokenAt(order[25]));
  const error = await createPoliciesWithBudget(broken, TEN_TABLES).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RlsDeclarationError);
  expect((error as Error).message).toMatch(
    new RegExp(
      `^PostgreSQL rejected policy "own_select" on ${MANY_TABLES_SCHEMA}\\.${order[25]}: column "no_such_column" does not exist\\. .* ` +
        '20 of 30 tables were brought to their declared state in transactions that committed and stay so; the other 10 were not changed \\(the transaction of 10 of them was rolled back\\)\\. ' +
        'Fix the cause and run it again: it does only what is still missing\\.$',
    ),
  );
  const after = await policiesByTable(db);
  // Every table has all four policies or none: the first two transactions (20 tables) stay.
  expect(tablesWith(after, POLICIES)).toEqual(order.slice(0, 20).sort());
  expect(tablesWith(after, [])).toEqual(order.slice(20).sort());

  const rest = await createPoliciesWithBudget(fixed, TEN_TABLES);
  expect([...new Set(rest.map((op) => op.table.name))].sort()).toEqual(order.slice(20).sort());
  expect(tablesWith(await policiesByTable(db), POLICIES)).toEqual(names(0, 30));
  expect(await createPoliciesWithBudget(fixed, TEN_TABLES)).toEqual([]);
  expect(await createPolicies(fixed)).toEqual([]);
}, 120_000);

it('names a policy PostgreSQL refuses while running the message (an unknown role), not only when parsing it, and changes nothing', async () => {
  const db = await freshTables();
  const unknownRole = (i: number) => (i === 17 ? [Permissive({ conditionArgs: [accountId], cmd: Command.select, customPolicyName: 'own', to: 'no_such_role_of_this_test' })] : [ownRows]);
  const orm = await ownerOrm(db, unknownRole);
  await expect(createPolicies(orm)).rejects.toThrow(
    new RegExp(`^PostgreSQL rejected policy "own_select" on ${MANY_TABLES_SCHEMA}\\.t00017: role "no_such_role_of_this_test" does not exist\\. .* Nothing was changed\\.$`),
  );
  expect(tablesWith(await policiesByTable(db), [])).toEqual(names(0, 30));
}, 120_000);

it('reports a refusal that is not the declaration’s (a lock timeout) with PostgreSQL’s error and SQLSTATE, naming the statement', async () => {
  const db = await freshTables();
  await db.query(`alter database "${db.name}" set lock_timeout = '200ms'`);
  const holder = new Client({ connectionString: db.superUrl });
  await holder.connect();
  try {
    await holder.query(`begin; lock table ${MANY_TABLES_SCHEMA}.${tableName(3)} in access share mode`);
    const orm = await ownerOrm(db);
    const error = await createPolicies(orm).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RlsConfigurationError);
    expect((error as Error).message).toMatch(
      new RegExp(`^Running \`create policy "own_select" on "${MANY_TABLES_SCHEMA}"\\."t00003" .*\` on ${MANY_TABLES_SCHEMA}\\.t00003 failed: canceling statement due to lock timeout \\(SQLSTATE 55P03\\)\\. Nothing was changed\\.$`),
    );
    expect((error as Error).cause).toMatchObject({ code: '55P03' });
  } finally {
    await holder.end();
  }
  expect(tablesWith(await policiesByTable(db), [])).toEqual(names(0, 30));
}, 120_000);

it('runs a chunk again alone when it deadlocked with the chunk beside it (a policy of each reads a table of the other), and every table ends with its policies', async () => {
  const db = await freshTables();
  const order = rlsSettingsOf((await ownerOrm(db)).config).tables.map((t) => t.table.name);
  // Chunks of two tables: [order[0], order[1]] and [order[2], order[3]] run side by side. Creating a
  // policy that reads a table locks that table (ACCESS SHARE) while the other chunk holds it ACCESS
  // EXCLUSIVE: order[1]'s policy reads order[2], order[3]'s reads order[0].
  const reads: Record<string, string> = { [order[1]]: order[2], [order[3]]: order[0] };
  const crossed = (i: number) => {
    const other = reads[tableName(i)];
    if (!other) return [ownRows];
    return [Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.insert, Command.update, Command.delete], customExpr: (id) => sql`${sql.raw(`exists (select from ${MANY_TABLES_SCHEMA}.${other}) and account_id =`)} ${id}`, customPolicyName: 'own' })];
  };
  const orm = await ownerOrm(db, crossed, 2);
  // Both chunks are held at their second table until both wait there, so that each holds its first
  // table when it reaches for the other's: a deadlock, every time.
  const holder = new Client({ connectionString: db.superUrl });
  await holder.connect();
  const before = await deadlocks(db);
  let run: Promise<unknown> = Promise.resolve();
  try {
    await holder.query(`begin; lock table ${MANY_TABLES_SCHEMA}.${order[1]}, ${MANY_TABLES_SCHEMA}.${order[3]} in access share mode`);
    run = createPoliciesWithBudget(orm, TEN_TABLES / 5);
    run.catch(() => undefined); // awaited below; a rejection before that must not go unhandled
    for (let waited = 0; ; waited += 50) {
      const [{ n }] = await holder.query<{ n: number }>(`select count(*)::int as n from pg_locks where not granted and relation in ('${MANY_TABLES_SCHEMA}.${order[1]}'::regclass, '${MANY_TABLES_SCHEMA}.${order[3]}'::regclass)`).then((r) => r.rows);
      if (n === 2) break;
      if (waited > 20_000) throw new Error(`the two chunks did not both wait on the held tables (${n} waiting)`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await holder.query('commit');
    await holder.end();
  }
  const operations = (await run) as Awaited<ReturnType<typeof createPolicies>>;
  expect(new Set(operations.map((op) => op.table.name)).size).toBe(TABLES);
  expect(await deadlocks(db)).toBeGreaterThan(before);
  const after = await policiesByTable(db);
  expect(tablesWith(after, POLICIES)).toEqual(names(0, 30));
  expect(await createPolicies(orm)).toEqual([]);
}, 120_000);

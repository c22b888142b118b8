import { diffRls } from '../../src/core/diff/diff-rls';
import { migrationStatements } from '../../src/core/plan/bounded-transactions';
import { fourPolicies } from '../fixtures/four-policies';
import { ownerClientPerTest } from '../support/owner-client-per-test';

// A migration written as bounded transactions, applied as MikroORM applies a migration whose
// isTransactional() is false: each addSql text sent on its own, outside any transaction. Each is one
// transaction, and when one fails, the tables the ones before it created have RLS enabled and forced:
// they show and accept no row until their policies come. Against a real database, as the owner.

jest.setTimeout(120_000);

const current = ownerClientPerTest();
const query = (text: string, params?: unknown[]) => current().client.query(text, params);

const TABLES = 800;
const names = Array.from({ length: TABLES }, (_, i) => `t${i}`);
/** The up of an initial migration of TABLES tables; the last table's policies are for `lastRole`. */
function initialUp(lastRole: string): string[] {
  const schema = { up: names.map((t) => `create table "${t}" ("id" serial primary key, "account_id" int not null)`), down: [] };
  const after = diffRls(names.map((t, i) => fourPolicies(t, i === TABLES - 1 ? lastRole : 'public')), []);
  const migration = migrationStatements({ before: [], schema, after, defaultSchema: 'public' }, { up: [], down: [] });
  expect(migration.transactional).toBe(false);
  return migration.up.filter((text) => text !== '');
}

const protectedTables = async () =>
  (await query(`select count(*)::int as n from pg_class where relname ~ '^t[0-9]+$' and relkind = 'r' and relrowsecurity and relforcerowsecurity`)).rows[0].n;
const allTables = async () => (await query(`select count(*)::int as n from pg_class where relname ~ '^t[0-9]+$' and relkind = 'r'`)).rows[0].n;
const policies = async () => (await query(`select count(*)::int as n from pg_policies where tablename ~ '^t[0-9]+$'`)).rows[0].n;

it('applies as several transactions, after which every table has RLS and its policies', async () => {
  const transactions = initialUp('public');
  expect(transactions.length).toBeGreaterThan(2);
  for (const text of transactions) await query(text);
  expect({ tables: await allTables(), protected: await protectedTables(), policies: await policies() }).toEqual({ tables: TABLES, protected: TABLES, policies: TABLES * 4 });
});

it('a transaction that fails changes nothing of its own, and leaves every table committed before it with RLS enabled and forced', async () => {
  const transactions = initialUp('a_role_that_does_not_exist');
  let failed = -1;
  for (const [i, text] of transactions.entries()) {
    try {
      await query(text);
    } catch (error) {
      expect((error as Error).message).toMatch(/role "a_role_that_does_not_exist" does not exist/);
      failed = i;
      break;
    }
  }
  expect(failed).toBe(transactions.length - 1);
  // Not one policy of the failed transaction is there, and the connection is usable (no transaction left open).
  const committedPolicies = await policies();
  expect(committedPolicies % 4).toBe(0);
  expect(committedPolicies).toBeLessThan(TABLES * 4);
  expect((await query(`select count(*)::int as n from pg_policies where tablename = $1`, [`t${TABLES - 1}`])).rows[0].n).toBe(0);
  expect(await allTables()).toBe(TABLES);
  expect(await protectedTables()).toBe(TABLES);
});

import { estimatedLocks, migrationStatements, TRANSACTION_LOCK_BUDGET, type MigrationParts } from '../../src/core/plan/bounded-transactions';
import { diffRls } from '../../src/core/diff/diff-rls';
import { fourPolicies } from '../fixtures/four-policies';

// How a migration's statements are cut into transactions: one, as MikroORM runs a migration, while the
// estimated locks fit the budget; consecutive bounded ones otherwise, where a table's RLS statements stay
// together and a new table gets RLS switched on in the transaction that creates it.

/** An initial migration of `n` tables: create them, then their policies. */
function initial(n: number): { parts: MigrationParts; flat: { up: string[]; down: string[] } } {
  const names = Array.from({ length: n }, (_, i) => `t${i}`);
  const schemaUp = names.map((t) => `create table "${t}" ("id" serial primary key, "a" int not null);`);
  const schemaDown = names.map((t) => `drop table if exists "${t}" cascade;`);
  const after = diffRls(names.map((t) => fourPolicies(t)), []);
  const parts = { before: [], schema: { up: schemaUp, down: schemaDown }, after, defaultSchema: 'public' };
  const flat = { up: [...schemaUp, ...after.flatMap((op) => op.up)], down: [...[...after].reverse().flatMap((op) => op.down), ...schemaDown] };
  return { parts, flat };
}

const statementsOf = (texts: string[]) => texts.filter((t) => t !== '').map((t) => t.split(';\n').map((s) => s.replace(/;$/, '')));
const locks = (statements: string[]) => statements.reduce((sum, s) => sum + estimatedLocks(s), 0);

it('estimates the locks of new tables, foreign keys and policy statements', () => {
  expect(estimatedLocks('create table "t" ("id" serial primary key)')).toBe(8);
  expect(estimatedLocks('drop table if exists "t" cascade')).toBe(22);
  expect(estimatedLocks('alter table "t" add constraint "f" foreign key ("u_id") references "u" ("id")')).toBe(3);
  expect(estimatedLocks('create policy "p" on "public"."t" as permissive for all to public using (true)')).toBe(1);
  expect(estimatedLocks(`comment on policy "p" on "public"."t" is 'managed by mikro-orm-rls'`)).toBe(1);
  expect(estimatedLocks('alter table "public"."t" enable row level security')).toBe(2);
});

it('a migration within the budget is one transaction, its statements as they are', () => {
  const { parts, flat } = initial(10);
  expect(migrationStatements(parts, flat)).toEqual({ ...flat, transactional: true });
});

describe('a migration over the budget', () => {
  const { parts, flat } = initial(1000);
  const migration = migrationStatements(parts, flat);
  const up = statementsOf(migration.up);
  const down = statementsOf(migration.down);

  it('is several transactions, each within the budget, with every statement once and in order', () => {
    expect(migration.transactional).toBe(false);
    expect(up.length).toBeGreaterThan(1);
    for (const transaction of [...up, ...down]) expect(locks(transaction)).toBeLessThanOrEqual(TRANSACTION_LOCK_BUDGET);
    expect(up.flat().sort()).toEqual(flat.up.map((s) => s.replace(/;$/, '')).sort());
    expect(down.flat()).toEqual(flat.down.map((s) => s.replace(/;$/, '')));
  });

  it('separates transactions by a blank line, each one text of statements ending in a semicolon', () => {
    migration.up.forEach((text, i) => (i % 2 === 1 ? expect(text).toBe('') : expect(text).toMatch(/;$/)));
  });

  it('switches RLS on for each new table in the transaction that creates it', () => {
    for (const transaction of up) {
      transaction.forEach((statement, i) => {
        const created = /^create table "(\w+)"/.exec(statement)?.[1];
        if (!created) return;
        expect(transaction.slice(i + 1, i + 3)).toEqual([`alter table "public"."${created}" enable row level security`, `alter table "public"."${created}" force row level security`]);
      });
    }
  });

  it('never splits the policies of a table between two transactions', () => {
    const transactionOf = new Map<string, number>();
    up.forEach((transaction, i) =>
      transaction.forEach((statement) => {
        const table = /(?:policy "\w+" on|table) "public"\."(\w+)"/.exec(statement)?.[1];
        if (!table || !/policy/.test(statement)) return;
        expect(transactionOf.get(table) ?? i).toBe(i);
        transactionOf.set(table, i);
      }),
    );
    expect(transactionOf.size).toBe(1000);
  });
});

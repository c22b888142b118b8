import type { LiveTableState } from '../../src/core/catalog';
import { lockBudget } from '../../src/core/catalog/lock-budget';
import type { PolicySpec, TableRlsSpec } from '../../src/core/ddl';
import { coverPartitions } from '../../src/core/diff/cover-partitions';
import { diffRls } from '../../src/core/diff';
import { chunkByLocks } from '../../src/core/plan/chunk-by-locks';
import { chunkStatements } from '../../src/core/plan/chunk-statements';
import { groupTables } from '../../src/core/plan/table-groups';

// How createPolicies cuts its work into transactions (no database: the pure planning).

const policy = (name: string, command: PolicySpec['command'] = 'select'): PolicySpec => ({
  name,
  permissive: true,
  command,
  roles: ['public'],
  using: command === 'insert' ? null : '(owner_id = 1)',
  withCheck: command === 'insert' ? '(owner_id = 1)' : null,
});
const table = (name: string) => ({ schema: 'public', name });
const spec = (name: string, policies = [policy('own_select'), policy('own_insert', 'insert')]): TableRlsSpec => ({ table: table(name), force: true, policies });

describe('lockBudget', () => {
  it('is a quarter of the lock table PostgreSQL sizes from max_locks_per_transaction and max_connections', () => {
    expect(lockBudget({ maxLocksPerTransaction: 64, maxConnections: 100, maxPreparedTransactions: 0 })).toBe(1600);
    expect(lockBudget({ maxLocksPerTransaction: 128, maxConnections: 100, maxPreparedTransactions: 20 })).toBe(3840);
  });

  it('is shared by the transactions that run at once, so that together they stay within a quarter', () => {
    expect(lockBudget({ maxLocksPerTransaction: 64, maxConnections: 100, maxPreparedTransactions: 0 }, 2)).toBe(800);
  });

  it('is never below what one session may count on, max_locks_per_transaction', () => {
    expect(lockBudget({ maxLocksPerTransaction: 64, maxConnections: 5, maxPreparedTransactions: 0 }, 2)).toBe(64);
    expect(lockBudget({ maxLocksPerTransaction: 64, maxConnections: 2, maxPreparedTransactions: 0 })).toBe(64);
  });
});

describe('chunkByLocks', () => {
  it('fills each chunk up to the budget, in order', () => {
    expect(chunkByLocks([5, 5, 5, 9, 2], (n) => n, 10)).toEqual([[5, 5], [5], [9], [2]]);
  });

  it('gives a group larger than the budget a chunk of its own instead of splitting it', () => {
    expect(chunkByLocks([3, 25, 3], (n) => n, 10)).toEqual([[3], [25], [3]]);
  });

  it('makes no chunk of nothing', () => {
    expect(chunkByLocks([], (n: number) => n, 10)).toEqual([]);
  });
});

describe('groupTables', () => {
  it('keeps a table with its partitions, and counts two locks per table and one per policy it comments on or drops', () => {
    const partitions = [
      { table: table('orders_2024'), root: table('orders') },
      { table: table('orders_2025'), root: table('orders') },
    ];
    const covered = coverPartitions([spec('orders'), spec('items')], [table('orders'), table('items')], partitions);
    const groups = groupTables(covered.desired, [], covered.partitions, diffRls(covered.desired, []));
    expect(groups.map((g) => g.desired.map((s) => s.table.name))).toEqual([['orders', 'orders_2024', 'orders_2025'], ['items']]);
    // Each table: two (itself, and what its expressions may read), and one per COMMENT ON POLICY (two).
    expect(groups.map((g) => [g.tables, g.locks])).toEqual([
      [3, 12],
      [1, 4],
    ]);
  });

  it('probes only the policies that exist under their name with the same command and kind, which only their text can tell apart', () => {
    const live: LiveTableState[] = [
      {
        table: table('items'),
        enabled: true,
        forced: true,
        policies: [
          { ...policy('own_select'), managed: true },
          { ...policy('own_insert', 'update'), managed: true },
        ],
      },
    ];
    const desired = [spec('items'), spec('fresh')];
    const groups = groupTables(desired, live, [], diffRls(desired, live));
    expect(groups.map((g) => g.toProbe?.policies.map((p) => p.name))).toEqual([['own_select'], undefined]);
  });

  it('probes nothing of a policy this package did not create, unless it may adopt it', () => {
    const live: LiveTableState[] = [{ table: table('items'), enabled: true, forced: true, policies: [{ ...policy('own_select'), managed: false }] }];
    const adoptable = [{ ...spec('items', [policy('own_select')]), adoptable: ['own_select'] }];
    expect(groupTables(adoptable, live, [], diffRls(adoptable, live))[0].toProbe?.policies.map((p) => p.name)).toEqual(['own_select']);
    const foreign = [spec('items', [policy('other_select')])];
    expect(groupTables(foreign, live, [], diffRls(foreign, live))[0].toProbe).toBeUndefined();
  });

  it('groups tables that only have live state (no longer declared) after the declared ones', () => {
    const live: LiveTableState[] = [{ table: table('old'), enabled: true, forced: true, policies: [{ ...policy('own_select'), managed: true }] }];
    const desired = [spec('items')];
    const groups = groupTables(desired, live, [], diffRls(desired, live));
    expect(groups.map((g) => [g.desired.length, g.live.map((l) => l.table.name)])).toEqual([
      [1, []],
      [0, ['old']],
    ]);
  });
});

describe('chunkStatements', () => {
  it('runs the RLS switches after the policy statements, and knows which declared policy each statement creates', () => {
    const desired = [spec('items')];
    const statements = chunkStatements(diffRls(desired, []), desired);
    expect(statements.map((s) => [s.sql.replace(/ on "public"\."items".*$/, ''), s.policy])).toEqual([
      ['create policy "own_select"', 'own_select'],
      ['comment on policy "own_select"', undefined],
      ['create policy "own_insert"', 'own_insert'],
      ['comment on policy "own_insert"', undefined],
      ['alter table "public"."items" enable row level security', undefined],
      ['alter table "public"."items" force row level security', undefined],
    ]);
  });
});

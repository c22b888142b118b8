import type { MachineInfo } from '../machine';
import type { BudgetCheck } from '../report';
import { DDL_PATH_LABELS, type DdlPlan, type DdlRow, type DdlRun } from './ddl-part';

/** The server settings that bound how much one transaction may lock. */
export interface LockSettings {
  maxLocksPerTransaction: number;
  maxConnections: number;
  maxPreparedTransactions: number;
}

export interface DdlReport {
  date: string;
  machine: MachineInfo;
  server: LockSettings;
  plan: DdlPlan;
  rows: DdlRow[];
  budget: BudgetCheck[];
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export const medianMs = (row: DdlRow) => median(row.samples.map((s) => s.ms));

const find = (rows: readonly DdlRow[], major: number, tables: number, path: DdlRow['path'], run: DdlRun) =>
  rows.find((r) => r.major === major && r.tables === tables && r.path === path && r.run === run);

/**
 * How many times faster `createPolicies` is than the baseline on the same tables and run: the median
 * over rounds of the ratio of the two paths' times in that round (measured side by side).
 */
export function speedup(rows: readonly DdlRow[], major: number, tables: number, run: DdlRun): number {
  const shipped = find(rows, major, tables, 'createPolicies', run);
  const baseline = find(rows, major, tables, 'oneStatementPerRoundTrip', run);
  if (!shipped || !baseline) return Number.NaN;
  const rounds = Math.min(shipped.samples.length, baseline.samples.length);
  return median(Array.from({ length: rounds }, (_, i) => baseline.samples[i].ms / shipped.samples[i].ms));
}

/** The budget of issue 14 (items 1 and 4), on the sizes the run measured. */
export function checkDdlBudget(rows: readonly DdlRow[], server: LockSettings): BudgetCheck[] {
  const checks: BudgetCheck[] = [];
  for (const major of [...new Set(rows.map((r) => r.major))]) {
    if (find(rows, major, 1000, 'createPolicies', 'fresh')) {
      const ratios = (['fresh', 'no change'] as const).map((run) => speedup(rows, major, 1000, run));
      checks.push({
        rule: `MikroORM ${major}: createPolicies at 1,000 tables at least 5x faster than one statement per round trip (fresh, no change)`,
        measured: ratios.map((r) => `${r.toFixed(1)}x`).join(', '),
        met: ratios.every((r) => r >= 5),
      });
    }
    for (const tables of [...new Set(rows.filter((r) => r.major === major && r.tables >= 3000).map((r) => r.tables))]) {
      const shipped = rows.filter((r) => r.major === major && r.tables === tables && r.path === 'createPolicies');
      checks.push({
        rule: `MikroORM ${major}: createPolicies applies ${tables.toLocaleString('en-US')} tables on this server (max_locks_per_transaction = ${server.maxLocksPerTransaction}, max_connections = ${server.maxConnections})`,
        measured: shipped.map((r) => `${r.run}: ${r.error ? `failed (${r.error})` : `${(medianMs(r) / 1000).toFixed(2)} s`}`).join(', '),
        met: shipped.every((r) => !r.error && r.samples.length > 0),
      });
    }
  }
  return checks;
}

const HEADER = ['MikroORM', 'tables', 'path', 'run', 'median ms', 'round trips', 'operations', 'speed-up'];

function cells(report: DdlReport): string[][] {
  return report.rows.map((r) => {
    const first = r.samples[0];
    const ratio = r.path === 'createPolicies' ? speedup(report.rows, r.major, r.tables, r.run) : Number.NaN;
    return [
      `${r.major}`,
      r.tables.toLocaleString('en-US'),
      DDL_PATH_LABELS[r.path],
      r.run,
      r.error ? `failed: ${r.error}` : medianMs(r).toFixed(0),
      first ? `${first.roundTrips}` : '-',
      first ? `${first.operations}` : '-',
      Number.isFinite(ratio) ? `${ratio.toFixed(1)}x` : '-',
    ];
  });
}

function intro(report: DdlReport): string {
  const m = report.machine;
  const s = report.server;
  return (
    `Measured ${report.date.slice(0, 10)} on ${m.cores} × ${m.cpu}, ${m.memoryGiB} GiB, ${m.os}, Node.js ${m.node}, PostgreSQL ${m.postgres} ` +
    `(max_locks_per_transaction = ${s.maxLocksPerTransaction}, max_connections = ${s.maxConnections}, max_prepared_transactions = ${s.maxPreparedTransactions}); ` +
    `tables of four policies over two condition args, as their owner; median of ${report.plan.rounds} rounds (paths in rotating order, fresh tables each); ` +
    'round trips counted on the wire in the first round; speed-up: the median over rounds of (one statement per round trip) / createPolicies.'
  );
}

/** The DDL results as Markdown (the README's DDL table). */
export function ddlMarkdown(report: DdlReport): string {
  const rows = cells(report);
  const budget = report.budget.map((b) => `- ${b.met === null ? 'note' : b.met ? 'met' : '**missed**'}: ${b.rule}: ${b.measured}`);
  return [
    intro(report),
    '',
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map((_, i) => (i < 4 ? '---' : '--:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    ...(budget.length > 0 ? ['', ...budget] : []),
  ].join('\n');
}

/** The DDL results as aligned text, for the terminal. */
export function ddlText(report: DdlReport): string {
  const all = [HEADER, ...cells(report)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((c) => c[i].length)));
  const lines = all.map((c) => c.map((v, i) => (i < 4 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  '));
  const budget = report.budget.map((b) => `${(b.met === null ? 'note' : b.met ? 'met' : 'MISSED').padEnd(6)}  ${b.rule}: ${b.measured}`);
  return [intro(report), '', ...lines, ...(budget.length > 0 ? ['', ...budget] : [])].join('\n');
}

import type { LockTableSettings } from '../../src/core/catalog/lock-budget';
import type { MachineInfo } from '../machine';
import type { BudgetCheck } from '../report';
import { DDL_PATH_LABELS, type DdlPlan, type DdlRow, type DdlRun } from './ddl-part';


export interface DdlReport {
  date: string;
  machine: MachineInfo;
  server: LockTableSettings;
  plan: DdlPlan;
  /** Connections of the ORM's pool (runs recorded before it was noted had one). */
  pool?: number;
  rows: DdlRow[];
  budget: BudgetCheck[];
}

/**
 * The same section run on the code before issue 14's change (the commit that added the section, where
 * createPolicies itself still sent one statement per round trip), kept in bench/results/ddl-before.json
 * and shown next to every new run.
 */
export interface RecordedDdlRun {
  commit: string;
  report: DdlReport;
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
export function checkDdlBudget(rows: readonly DdlRow[], server: LockTableSettings): BudgetCheck[] {
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
        measured: shipped.map((r) => `${r.run}: ${r.error ? `failed (${shortError(r.error)})` : `${(medianMs(r) / 1000).toFixed(2)} s`}`).join(', '),
        met: shipped.every((r) => !r.error && r.samples.length > 0),
      });
    }
  }
  return checks;
}

/** PostgreSQL's words of a recorded error (knex prefixes them with the statement, ` - ` between). */
const shortError = (error: string) => (error.includes(' - ') ? error.slice(error.lastIndexOf(' - ') + 3) : error);

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
      r.error ? `failed: ${shortError(r.error)}` : medianMs(r).toFixed(0),
      first ? `${first.roundTrips}` : '-',
      first ? `${first.operations}` : '-',
      Number.isFinite(ratio) ? `${ratio.toFixed(1)}x` : '-',
    ];
  });
}

const poolOf = (report: DdlReport) =>
  (report.pool ?? 1) === 1 ? 'with a pool of one connection' : `with a pool of ${report.pool} connections (createPolicies runs ${report.pool} transactions at once, the baseline uses one)`;

function intro(report: DdlReport): string {
  const m = report.machine;
  const s = report.server;
  return (
    `Measured ${report.date.slice(0, 10)} on ${m.cores} × ${m.cpu}, ${m.memoryGiB} GiB, ${m.os}, Node.js ${m.node}, PostgreSQL ${m.postgres} ` +
    `(max_locks_per_transaction = ${s.maxLocksPerTransaction}, max_connections = ${s.maxConnections}, max_prepared_transactions = ${s.maxPreparedTransactions}); ` +
    `tables of four policies over two condition args, as their owner, ${poolOf(report)}; median of ${report.plan.rounds} rounds (paths in rotating order, fresh tables each); ` +
    'round trips counted on the wire in the first round; speed-up: the median over rounds of (one statement per round trip) / createPolicies.'
  );
}

const markdownRows = (rows: string[][]) => [`| ${HEADER.join(' | ')} |`, `|${HEADER.map((_, i) => (i < 4 ? '---' : '--:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];

/** createPolicies then and now, per major, size and run (medians of different runs: the machine's load may differ). */
function thenAndNow(report: DdlReport, before: DdlReport): string[] {
  return report.rows
    .filter((r) => r.path === 'createPolicies')
    .flatMap((now) => {
      const then = find(before.rows, now.major, now.tables, 'createPolicies', now.run);
      if (!then) return [];
      const was = then.error ? `failed (${shortError(then.error)})` : `${medianMs(then).toFixed(0)} ms`;
      const is = now.error ? `failed (${shortError(now.error)})` : `${medianMs(now).toFixed(0)} ms`;
      const ratio = !then.error && !now.error ? ` (${(medianMs(then) / medianMs(now)).toFixed(1)}x)` : '';
      return [`- MikroORM ${now.major}, ${now.tables.toLocaleString('en-US')} tables, ${now.run}: ${was} then, ${is} now${ratio}`];
    });
}

/** The DDL results as Markdown (the README's DDL table), with the recorded run before the change when given. */
export function ddlMarkdown(report: DdlReport, before?: RecordedDdlRun): string {
  const budget = report.budget.map((b) => `- ${b.met === null ? 'note' : b.met ? 'met' : '**missed**'}: ${b.rule}: ${b.measured}`);
  const recorded = before
    ? [
        '',
        `Before the change (commit ${before.commit}, where createPolicies itself sent one statement per round trip; the same section): ${intro(before.report)}`,
        '',
        ...markdownRows(cells(before.report)),
        '',
        'createPolicies then and now (medians of the two runs above):',
        '',
        ...thenAndNow(report, before.report),
      ]
    : [];
  return [intro(report), '', ...markdownRows(cells(report)), ...(budget.length > 0 ? ['', ...budget] : []), ...recorded].join('\n');
}

/** The DDL results as aligned text, for the terminal. */
export function ddlText(report: DdlReport): string {
  const all = [HEADER, ...cells(report)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((c) => c[i].length)));
  const lines = all.map((c) => c.map((v, i) => (i < 4 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  '));
  const budget = report.budget.map((b) => `${(b.met === null ? 'note' : b.met ? 'met' : 'MISSED').padEnd(6)}  ${b.rule}: ${b.measured}`);
  return [intro(report), '', ...lines, ...(budget.length > 0 ? ['', ...budget] : [])].join('\n');
}

import type { CellResult } from './measure';
import type { MachineInfo } from './machine';

export interface Row extends CellResult {
  workload: number;
  workloadLabel: string;
  variant: string;
  // Ratios are medians over rounds of the ratio between two variants measured side by side in a round.
  /** Throughput relative to variant (a) on the same workload. */
  vsBaseline: number;
  /** Median latency relative to variant (a) on the same workload (the scan budget is about time). */
  timeVsBaseline: number;
  /** Median latency relative to the baseline of the same shape (see `vsSameShape`). */
  timeVsSameShape: number;
  /**
   * Throughput relative to the unscoped baseline of the same shape: (b) to (a); (c) and (d), which run
   * each request in `em.transactional`, to (a+tx). What scoping itself costs, the transaction aside.
   */
  vsSameShape: number;
  roundTripsPerOperation: number;
}

export interface BudgetCheck {
  rule: string;
  measured: string;
  /** `null` for a line that is context for the rules, not a rule. */
  met: boolean | null;
}

const verdict = (b: BudgetCheck, missed: string) => (b.met === null ? 'note' : b.met ? 'met' : missed);

export interface BenchReport {
  date: string;
  machine: MachineInfo;
  settings: { poolSize: number; concurrency: number; rounds: number; warmupSeconds: number; durationSeconds: number; dataset: Record<string, number> };
  variants: Record<string, string>;
  rows: Row[];
  budget: BudgetCheck[];
}

const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const row = (w: Row) => [`${w.workload}`, w.variant, fixed(w.throughput, 0), fixed(w.p50Ms, 2), fixed(w.p99Ms, 2), `${fixed(w.vsBaseline, 2)}x`, `${fixed(w.vsSameShape, 2)}x`, fixed(w.roundTripsPerOperation, 1)];
const HEADER = ['workload', 'variant', 'ops/s', 'p50 ms', 'p99 ms', 'vs (a)', 'vs same shape', 'round trips/op'];

/** The results as aligned text, for the terminal. */
export function textTable(report: BenchReport): string {
  const cells = [HEADER, ...report.rows.map(row)];
  const widths = HEADER.map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  const lines = cells.map((c) => c.map((v, i) => (i < 2 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  '));
  const budget = report.budget.map((b) => `${verdict(b, 'MISSED').padEnd(6)}  ${b.rule}: ${b.measured}`);
  return [...lines, '', 'budget:', ...budget].join('\n');
}

/** The results as the Markdown the README's Performance section shows. */
export function markdownTable(report: BenchReport): string {
  const m = report.machine;
  const s = report.settings;
  const lines = [
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map((_, i) => (i < 2 ? '---' : '--:')).join('|')}|`,
    ...report.rows.map((r) => `| ${row(r).join(' | ')} |`),
  ];
  const budget = report.budget.map((b) => `- ${verdict(b, '**missed**')}: ${b.rule}: ${b.measured}`);
  const machine =
    `Measured ${report.date.slice(0, 10)} on ${m.cores} × ${m.cpu}, ${m.memoryGiB} GiB, ${m.os}, Node.js ${m.node}, ` +
    `PostgreSQL ${m.postgres}; pool of ${s.poolSize}, ${s.concurrency} concurrent workers; each cell measured for ${s.rounds} × ${s.durationSeconds} s (variants in rotating order, ${s.warmupSeconds} s warm-up each).`;
  return [machine, '', ...lines, '', ...budget].join('\n');
}

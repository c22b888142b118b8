import type { CellResult } from './measure';
import type { MachineInfo } from './machine';
import type { MikroOrm7Part, V7Row } from './v7/part';

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

/**
 * What the session reset (the statements that put back the role and the context variables after each
 * scoped message and COMMIT) costs one scoped variant on one workload: the variant measured as shipped
 * and with the reset taken off the wire, side by side in the same rounds as the baseline (a).
 */
export interface ResetRow {
  workload: number;
  workloadLabel: string;
  /** The scoped variant: (b) or (c). */
  variant: string;
  /** Throughput relative to (a), with the reset (as shipped) and without it. */
  withResetVsBaseline: number;
  withoutResetVsBaseline: number;
  /** Median over rounds of throughput with the reset / without it: 0.97 means the reset costs 3 %. */
  withVsWithout: number;
  p50MsWith: number;
  p50MsWithout: number;
  roundTripsWith: number;
  roundTripsWithout: number;
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
  /** The session reset's cost, on the workloads where a fixed cost per message weighs most. */
  sessionReset: ResetRow[];
  /** The MikroORM 7 variants, measured in the same run on the same data set (bench/v7). */
  mikroOrm7: MikroOrm7Part;
  budget: BudgetCheck[];
}

const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const row = (w: Row) => [`${w.workload}`, w.variant, fixed(w.throughput, 0), fixed(w.p50Ms, 2), fixed(w.p99Ms, 2), `${fixed(w.vsBaseline, 2)}x`, `${fixed(w.vsSameShape, 2)}x`, fixed(w.roundTripsPerOperation, 1)];
const HEADER = ['workload', 'variant', 'ops/s', 'p50 ms', 'p99 ms', 'vs (a)', 'vs same shape', 'round trips/op'];
const resetRow = (r: ResetRow) => [
  `${r.workload}`,
  r.variant,
  `${fixed(r.withResetVsBaseline, 2)}x`,
  `${fixed(r.withoutResetVsBaseline, 2)}x`,
  `${fixed(r.withVsWithout, 3)}x`,
  fixed(r.p50MsWith, 2),
  fixed(r.p50MsWithout, 2),
  `${fixed(r.roundTripsWith, 1)} / ${fixed(r.roundTripsWithout, 1)}`,
];
const RESET_HEADER = ['workload', 'variant', 'vs (a) with reset', 'vs (a) without', 'with / without', 'p50 ms with', 'p50 ms without', 'round trips/op with / without'];
const RESET_INTRO =
  'Session reset: (b) and (c) measured again with the reset (the statements that put back the role and the context variables ' +
  'after each scoped message and COMMIT) taken off the wire, in the same rounds; "with / without" is what the reset leaves of the throughput.';

const v7Row = (w: V7Row) => [...row(w).slice(0, 7), `${fixed(w.vsNative, 2)}x`, fixed(w.roundTripsPerOperation, 1)];
const V7_HEADER = ['workload', 'variant', 'ops/s', 'p50 ms', 'p99 ms', 'vs (a7)', 'vs same shape', 'vs native same shape', 'round trips/op'];
const v7Intro = (part: MikroOrm7Part) =>
  `MikroORM ${part.mikroOrm} on Node.js ${part.node}, same server, data set, pool, workers and rounds, right after the MikroORM 6 variants; ` +
  'ratios against the MikroORM 7 variants: (a7) unscoped, (a7+tx) unscoped in em.transactional, ' +
  "(n7) MikroORM 7's native session context (em.fork({ session: { variables } }), which wraps each call in a transaction of its own), " +
  '(n7+tx) native in em.transactional, (b7) forkWithRls, (c7) forkWithRls in em.transactional; ' +
  '"same shape" and "native same shape" are (a7) and (n7) for the variants without em.transactional, (a7+tx) and (n7+tx) for those with it.';

function aligned(header: string[], rows: string[][]): string[] {
  const cells = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  return cells.map((c) => c.map((v, i) => (i < 2 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  '));
}

const markdownRows = (header: string[], rows: string[][]) => [
  `| ${header.join(' | ')} |`,
  `|${header.map((_, i) => (i < 2 ? '---' : '--:')).join('|')}|`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
];

/** The results as aligned text, for the terminal. */
export function textTable(report: BenchReport): string {
  const budget = report.budget.map((b) => `${verdict(b, 'MISSED').padEnd(6)}  ${b.rule}: ${b.measured}`);
  const reset = aligned(RESET_HEADER, report.sessionReset.map(resetRow));
  const v7 = aligned(V7_HEADER, report.mikroOrm7.rows.map(v7Row));
  return [...aligned(HEADER, report.rows.map(row)), '', RESET_INTRO, '', ...reset, '', v7Intro(report.mikroOrm7), '', ...v7, '', 'budget:', ...budget].join('\n');
}

/** The results as the Markdown the README's Performance section shows. */
export function markdownTable(report: BenchReport): string {
  const m = report.machine;
  const s = report.settings;
  const budget = report.budget.map((b) => `- ${verdict(b, '**missed**')}: ${b.rule}: ${b.measured}`);
  const machine =
    `Measured ${report.date.slice(0, 10)} on ${m.cores} × ${m.cpu}, ${m.memoryGiB} GiB, ${m.os}, Node.js ${m.node}, ` +
    `PostgreSQL ${m.postgres}; pool of ${s.poolSize}, ${s.concurrency} concurrent workers; each cell measured for ${s.rounds} × ${s.durationSeconds} s (variants in rotating order, ${s.warmupSeconds} s warm-up each).`;
  const reset = markdownRows(RESET_HEADER, report.sessionReset.map(resetRow));
  const v7 = markdownRows(V7_HEADER, report.mikroOrm7.rows.map(v7Row));
  return [machine, '', ...markdownRows(HEADER, report.rows.map(row)), '', RESET_INTRO, '', ...reset, '', v7Intro(report.mikroOrm7), '', ...v7, '', ...budget].join('\n');
}

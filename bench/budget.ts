import type { BudgetCheck, ResetRow, Row } from './report';

const find = (rows: readonly Row[], workload: number, variant: string) => rows.find((r) => r.workload === workload && r.variant === variant);

/** The budget of issue #6 (and the session reset's of issue #10), checked against one run's rows. */
export function checkBudget(rows: readonly Row[], reset: readonly ResetRow[]): BudgetCheck[] {
  const checks: BudgetCheck[] = [];
  const atLeast = (variant: string, workloads: number[], floor: number) => {
    const ratios = workloads.map((w) => find(rows, w, variant)?.vsBaseline ?? Number.NaN);
    checks.push({
      rule: `(${variant}) at least ${floor}x of (a) on workloads ${workloads.join(', ')}`,
      measured: ratios.map((r, i) => `${workloads[i]}: ${r.toFixed(2)}x`).join(', '),
      met: ratios.every((r) => r >= floor),
    });
  };
  atLeast('c', [2, 3, 4], 0.9);
  const bound = [2, 3, 4].map((w) => `${w}: (a+tx) ${(find(rows, w, 'a+tx')?.vsBaseline ?? Number.NaN).toFixed(2)}x, (c)/(a+tx) ${(find(rows, w, 'c')?.vsSameShape ?? Number.NaN).toFixed(2)}x`);
  checks.push({
    rule: 'what em.transactional costs without RLS, and (c) against that',
    measured: bound.join('; '),
    met: null,
  });
  atLeast('b', [1, 2], 0.8);
  // The scan's own cost: compared like for like, (b) with (a), and (c) with (a+tx), the baseline in the
  // same transaction shape, so the transaction's round trips do not count as scan time.
  const scanB = find(rows, 5, 'b')?.timeVsSameShape ?? Number.NaN;
  const scanC = find(rows, 5, 'c')?.timeVsSameShape ?? Number.NaN;
  checks.push({
    rule: 'policy scan (5) within 1.1x of the explicit-WHERE scan time (median latency; (b) vs (a), (c) vs (a+tx))',
    measured: `(b) ${scanB.toFixed(2)}x, (c) ${scanC.toFixed(2)}x`,
    met: scanB <= 1.1 && scanC <= 1.1,
  });
  const extra = [1, 2, 3, 4, 5].flatMap((w) => {
    const plain = find(rows, w, 'a');
    const plainTx = find(rows, w, 'a+tx');
    const b = find(rows, w, 'b');
    const c = find(rows, w, 'c');
    return plain && plainTx && b && c ? [b.roundTripsPerOperation - plain.roundTripsPerOperation, c.roundTripsPerOperation - plainTx.roundTripsPerOperation] : [Number.NaN];
  });
  checks.push({
    rule: 'at most one extra round trip per scoped transaction ((b) vs (a), (c) vs (a+tx))',
    measured: `largest difference ${Math.max(...extra).toFixed(1)}`,
    met: extra.every((d) => d <= 1),
  });
  // The reset travels in messages that are sent anyway: it may cost bytes and statements, never a round trip.
  const resetTrips = reset.map((r) => r.roundTripsWith - r.roundTripsWithout);
  checks.push({
    rule: 'the session reset adds no round trip ((b) and (c) with vs without it)',
    measured: `largest difference ${Math.max(...resetTrips).toFixed(1)}`,
    met: resetTrips.length > 0 && resetTrips.every((d) => d === 0),
  });
  checks.push({
    rule: 'what the session reset leaves of the throughput (with / without it)',
    measured: reset.map((r) => `${r.workload} (${r.variant}): ${r.withVsWithout.toFixed(3)}x`).join(', '),
    met: null,
  });
  return checks;
}

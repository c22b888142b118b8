import { checkBudget } from '../../bench/budget';
import type { ResetRow, Row } from '../../bench/report';

// The budget verdicts from given numbers (no timing here).

function rows(ratios: Record<string, number>, trips: Record<string, number> = {}): Row[] {
  return [1, 2, 3, 4, 5].flatMap((workload) =>
    ['a', 'b', 'c', 'd', 'a+tx'].map((variant) => {
      const ratio = ratios[`${workload}${variant}`] ?? 1;
      return {
        workload,
        workloadLabel: `w${workload}`,
        variant,
        operations: 1000,
        seconds: 1,
        throughput: 1000 * ratio,
        p50Ms: 1 / ratio,
        p99Ms: 2 / ratio,
        vsBaseline: ratio,
        timeVsBaseline: 1 / ratio,
        vsSameShape: variant === 'c' ? ratio / (ratios[`${workload}a+tx`] ?? 1) : ratio,
        timeVsSameShape: variant === 'c' ? (ratios[`${workload}a+tx`] ?? 1) / ratio : 1 / ratio,
        roundTripsPerOperation: trips[`${workload}${variant}`] ?? 1,
      };
    }),
  );
}

/** (b) and (c) on workloads 1 to 3, with the session reset and without it, `extraTrips` more with it. */
function resetRows(extraTrips: Record<string, number> = {}): ResetRow[] {
  return [1, 2, 3].flatMap((workload) =>
    ['b', 'c'].map((variant) => ({
      workload,
      workloadLabel: `w${workload}`,
      variant,
      withResetVsBaseline: 0.98,
      withoutResetVsBaseline: 1,
      withVsWithout: 0.98,
      p50MsWith: 1.02,
      p50MsWithout: 1,
      roundTripsWith: 1 + (extraTrips[`${workload}${variant}`] ?? 0),
      roundTripsWithout: 1,
    })),
  );
}

const verdicts = (r: Row[], reset: ResetRow[] = resetRows()) => checkBudget(r, reset).map((c) => c.met);

it('meets every rule when every variant matches the baseline', () => {
  expect(verdicts(rows({}))).toEqual([true, null, true, true, true, true, null]);
});

it('misses the transactional rule when (c) falls below 0.9x on one of workloads 2 to 4', () => {
  expect(verdicts(rows({ '3c': 0.89 }))[0]).toBe(false);
});

it('misses the no-transaction rule when (b) falls below 0.8x on a point read', () => {
  expect(verdicts(rows({ '1b': 0.79 }))[2]).toBe(false);
});

it('judges the scan against the baseline of the same shape', () => {
  expect(verdicts(rows({ '5c': 0.5, '5a+tx': 0.5 }))[3]).toBe(true);
  expect(verdicts(rows({ '5b': 0.85 }))[3]).toBe(false);
});

it('misses the round-trip rule when a scoped variant needs two more than its baseline', () => {
  expect(verdicts(rows({}, { '2b': 3 }))[4]).toBe(false);
  expect(verdicts(rows({}, { '2b': 2 }))[4]).toBe(true);
});

it('misses the session reset rule when the reset costs a round trip, and reports what it leaves of the throughput', () => {
  expect(verdicts(rows({}), resetRows({ '3c': 1 }))[5]).toBe(false);
  expect(checkBudget(rows({}), resetRows())[6].measured).toContain('1 (b): 0.980x');
});

it('misses the session reset rule when nothing measured it', () => {
  expect(verdicts(rows({}), [])[5]).toBe(false);
});

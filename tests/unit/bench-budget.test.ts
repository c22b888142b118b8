import { checkBudget } from '../../bench/budget';
import type { Row } from '../../bench/report';

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

const verdicts = (r: Row[]) => checkBudget(r).map((c) => c.met);

it('meets every rule when every variant matches the baseline', () => {
  expect(verdicts(rows({}))).toEqual([true, null, true, true, true]);
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

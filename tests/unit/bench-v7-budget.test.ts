import { checkV7Budget } from '../../bench/v7/budget';
import type { V7Row } from '../../bench/v7/part';

// The MikroORM 7 budget verdicts from given numbers (no timing here).

const VARIANTS = ['a7', 'n7', 'n7+tx', 'b7', 'c7', 'a7+tx'];

/** `vs` and `native` by `<workload><variant>`: ratios to (a7) or its same shape, and to (n7); 1 where not given. */
function rows(vs: Record<string, number> = {}, native: Record<string, number> = {}, trips: Record<string, number> = {}): V7Row[] {
  return [1, 2, 3, 4, 5].flatMap((workload) =>
    VARIANTS.map((variant) => {
      const key = `${workload}${variant}`;
      const ratio = vs[key] ?? 1;
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
        vsSameShape: ratio,
        timeVsSameShape: 1 / ratio,
        vsNative: native[key] ?? 1.5,
        roundTripsPerOperation: trips[key] ?? 1,
      };
    }),
  );
}

const verdicts = (r: V7Row[]) => checkV7Budget(r).map((c) => c.met);

it('meets every rule when ours matches unscoped MikroORM 7 and is 1.5x of the native session context', () => {
  expect(verdicts(rows())).toEqual([true, true, true, true, true, null]);
});

it('misses the unscoped rule when (b7) falls below 0.95x of (a7) on a point read or a list', () => {
  expect(verdicts(rows({ '1b7': 0.94 }))[0]).toBe(false);
  expect(verdicts(rows({ '2b7': 0.94 }))[0]).toBe(false);
  // Other workloads are not in this rule.
  expect(verdicts(rows({ '3b7': 0.5 }))[0]).toBe(true);
});

it('judges (c7) against unscoped MikroORM 7 in the same transaction shape', () => {
  expect(verdicts(rows({ '2c7': 0.94 }))[1]).toBe(false);
  expect(verdicts(rows({ '2c7': 0.95 }))[1]).toBe(true);
});

it('misses the native rule when (b7) or (c7) is below 1.3x of the native session context of its shape', () => {
  expect(verdicts(rows({}, { '1b7': 1.29 }))[2]).toBe(false);
  expect(verdicts(rows({}, { '2c7': 1.29 }))[3]).toBe(false);
  expect(verdicts(rows({}, { '1b7': 1.3, '2c7': 1.3 })).slice(2, 4)).toEqual([true, true]);
});

it('misses the round-trip rule when a scoped MikroORM 7 variant needs two more than its unscoped shape', () => {
  expect(verdicts(rows({}, {}, { '4c7': 3 }))[4]).toBe(false);
  expect(verdicts(rows({}, {}, { '4c7': 2 }))[4]).toBe(true);
});

it('misses every rule when the MikroORM 7 rows are missing', () => {
  expect(verdicts([]).slice(0, 5)).toEqual([false, false, false, false, false]);
});

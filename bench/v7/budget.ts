import type { BudgetCheck } from '../report';
import type { V7Row } from './part';

const find = (rows: readonly V7Row[], workload: number, variant: string) => rows.find((r) => r.workload === workload && r.variant === variant);
const POINT_READ_AND_LIST = [1, 2];

/**
 * The MikroORM 7 budget of issue #13, checked against one run's MikroORM 7 rows: this package on
 * MikroORM 7 against unscoped MikroORM 7, and against MikroORM 7's native session context.
 */
export function checkV7Budget(rows: readonly V7Row[]): BudgetCheck[] {
  const checks: BudgetCheck[] = [];
  const atLeast = (rule: string, variant: string, floor: number, ratio: (r: V7Row) => number) => {
    const ratios = POINT_READ_AND_LIST.map((w) => {
      const row = find(rows, w, variant);
      return row ? ratio(row) : Number.NaN;
    });
    checks.push({
      rule: `MikroORM 7: (${variant}) at least ${floor}x of ${rule} on workloads ${POINT_READ_AND_LIST.join(', ')}`,
      measured: ratios.map((r, i) => `${POINT_READ_AND_LIST[i]}: ${r.toFixed(2)}x`).join(', '),
      met: ratios.every((r) => r >= floor),
    });
  };
  atLeast('(a7), unscoped MikroORM 7', 'b7', 0.95, (r) => r.vsBaseline);
  // Inside a transaction, against unscoped MikroORM 7 in the same transaction shape: what scoping costs
  // there, the transaction's own round trips aside (c7 against a7 is in the table).
  atLeast('(a7+tx), unscoped MikroORM 7 in em.transactional', 'c7', 0.95, (r) => r.vsSameShape);
  // Against native in the same transaction shape: (b7) with (n7), which opens a transaction per call
  // because it must; (c7) with (n7+tx), native in the same em.transactional.
  atLeast("(n7), MikroORM 7's native session context", 'b7', 1.3, (r) => r.vsNative);
  atLeast("(n7+tx), MikroORM 7's native session context in em.transactional", 'c7', 1.3, (r) => r.vsNative);
  const extra = [1, 2, 3, 4, 5].flatMap((w) => {
    const [a, atx, b, c] = ['a7', 'a7+tx', 'b7', 'c7'].map((v) => find(rows, w, v));
    return a && atx && b && c ? [b.roundTripsPerOperation - a.roundTripsPerOperation, c.roundTripsPerOperation - atx.roundTripsPerOperation] : [Number.NaN];
  });
  checks.push({
    rule: 'MikroORM 7: at most one extra round trip per scoped transaction ((b7) vs (a7), (c7) vs (a7+tx))',
    measured: `largest difference ${Math.max(...extra).toFixed(1)}`,
    met: extra.every((d) => d <= 1),
  });
  checks.push({
    rule: "MikroORM 7: round trips per operation, the native session context against this package ((n7) / (b7), (n7+tx) / (c7))",
    measured: [1, 2, 3, 4, 5]
      .map((w) => {
        const trips = (v: string) => find(rows, w, v)?.roundTripsPerOperation ?? Number.NaN;
        return `${w}: ${trips('n7')} / ${trips('b7')}, ${trips('n7+tx')} / ${trips('c7')}`;
      })
      .join('; '),
    met: null,
  });
  return checks;
}

import { combine, medianRatio, sample, type Sample } from './measure';
import type { Row } from './report';
import type { Workload } from './workloads';

// The measuring loop both parts of the benchmark share (MikroORM 6 in bench/main.ts, MikroORM 7 in
// bench/v7/main.ts), so that their numbers mean the same.

// Each cell is measured in several rounds, the order of the variants rotating between rounds, so that
// drift (autovacuum, checkpoints, caches warming, noisy neighbours) does not favour whichever variant
// runs first; ratios are taken within a round (variants measured side by side), then their median.
export const ROUNDS = 5;
/** Operations run one by one, alone on the pool, to count round trips per operation. */
export const ROUND_TRIP_SAMPLES = 20;

export interface Timing {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

export interface WorkloadPlan {
  /** The variants measured side by side, in the order of round 0. */
  variantIds: readonly string[];
  /** One request of `variantId` for a worker, drawn with the seeds of `round`. */
  requests(variantId: string, round: number): (worker: number) => Promise<unknown>;
  /**
   * Round trips counted on the wire while `run` does ROUND_TRIP_SAMPLES operations alone on the pool
   * (round 0 only, after the variant's timed sample).
   */
  countRoundTrips(variantId: string, run: () => Promise<void>): Promise<number>;
  /** After each cell (e.g. removing what an insert workload added, so every variant starts alike). */
  afterCell?(): Promise<void>;
}

export interface Cells {
  samples: Map<string, Sample[]>;
  /** Round trips per operation. */
  trips: Map<string, number>;
}

/** Every variant of one workload, in ROUNDS rounds of rotating order, and its round trips per operation. */
export async function measureWorkload(plan: WorkloadPlan, timing: Timing): Promise<Cells> {
  const ids = plan.variantIds;
  const samples = new Map<string, Sample[]>(ids.map((id) => [id, []]));
  const trips = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = ids.map((_, i) => ids[(i + round) % ids.length]);
    for (const id of order) {
      const once = plan.requests(id, round);
      samples.get(id)!.push(await sample(once, timing));
      if (round === 0) {
        const counted = await plan.countRoundTrips(id, async () => {
          for (let i = 0; i < ROUND_TRIP_SAMPLES; i += 1) await once(0);
        });
        trips.set(id, counted / ROUND_TRIP_SAMPLES);
      }
      await plan.afterCell?.();
    }
  }
  return { samples, trips };
}

/**
 * One variant's row: its combined samples, and its ratios to `baseline` and to `sameShape` (the
 * unscoped variant of the same transaction shape), each the median of the per-round ratios.
 */
export function rowOf(cells: Cells, workload: Workload, variantId: string, baseline: string, sameShape: string): Row {
  const own = cells.samples.get(variantId)!;
  const base = cells.samples.get(baseline)!;
  const shape = cells.samples.get(sameShape)!;
  return {
    ...combine(own),
    workload: workload.id,
    workloadLabel: workload.label,
    variant: variantId,
    vsBaseline: medianRatio(own, base, (s) => s.throughput),
    timeVsBaseline: medianRatio(own, base, (s) => s.p50Ms),
    vsSameShape: medianRatio(own, shape, (s) => s.throughput),
    timeVsSameShape: medianRatio(own, shape, (s) => s.p50Ms),
    roundTripsPerOperation: cells.trips.get(variantId)!,
  };
}

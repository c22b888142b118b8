import { performance } from 'node:perf_hooks';

/** A small seeded generator (mulberry32), so every run draws the same tenants and rows. */
export function seededPicker(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n: number) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

export interface CellResult {
  operations: number;
  seconds: number;
  /** Operations per second, all workers together. */
  throughput: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** One timed run: how long it took and every operation's latency. */
export interface Sample {
  seconds: number;
  latenciesMs: number[];
}

/**
 * Runs `operation` from `concurrency` workers in a closed loop: a warm-up that is not recorded, then
 * `durationMs` during which every operation's latency is.
 */
export async function sample(operation: (worker: number) => Promise<unknown>, options: { concurrency: number; warmupMs: number; durationMs: number }): Promise<Sample> {
  const loop = async (worker: number, until: number, latencies?: number[]) => {
    while (performance.now() < until) {
      const start = performance.now();
      await operation(worker);
      latencies?.push(performance.now() - start);
    }
  };
  const workers = Array.from({ length: options.concurrency }, (_, i) => i);
  await Promise.all(workers.map((w) => loop(w, performance.now() + options.warmupMs)));
  const latenciesMs: number[] = [];
  const start = performance.now();
  await Promise.all(workers.map((w) => loop(w, start + options.durationMs, latenciesMs)));
  return { seconds: (performance.now() - start) / 1000, latenciesMs };
}

/** The median over rounds of `metric(this round's sample) / metric(the other variant's sample of the same round)`. */
export function medianRatio(own: readonly Sample[], other: readonly Sample[], metric: (result: CellResult) => number): number {
  const ratios = own.map((s, round) => metric(combine([s])) / metric(combine([other[round]]))).sort((a, b) => a - b);
  const mid = Math.floor(ratios.length / 2);
  return ratios.length % 2 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2;
}

/** Several samples of one cell (taken in different rounds) as one result. */
export function combine(samples: readonly Sample[]): CellResult {
  const latencies = samples.flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
  const seconds = samples.reduce((sum, s) => sum + s.seconds, 0);
  return { operations: latencies.length, seconds, throughput: latencies.length / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RoundTripCounter } from '../tests/support/round-trip-counter';
import { checkBudget } from './budget';
import { ratioChart } from './chart';
import { DATASET, resetInsertedRows } from './dataset';
import { describeMachine } from './machine';
import { combine, medianRatio, sample, type Sample } from './measure';
import { markdownTable, textTable, type BenchReport, type Row } from './report';
import { CONCURRENCY, openBench, POOL_SIZE, requestsOf } from './setup';
import { VARIANTS } from './variants';
import { WORKLOADS } from './workloads';

// `npm run bench [-- --quick] [-- --out=<dir>]`: builds the data set, runs every workload under every
// variant with the same pool and concurrency, counts round trips, and writes the results.

const ROUND_TRIP_SAMPLES = 20;
// Each cell is measured in several rounds, the order of the variants rotating between rounds, so that
// drift (autovacuum, checkpoints, caches warming, noisy neighbours) does not favour whichever variant
// runs first; ratios are taken within a round (variants measured side by side), then their median.
const ROUNDS = 5;
// The unscoped variant each is compared with for "vs same shape": with or without em.transactional.
const SAME_SHAPE: Record<string, string> = { a: 'a', b: 'a', c: 'a+tx', d: 'a+tx', 'a+tx': 'a+tx' };

function parseArgs(argv: string[]) {
  const quick = argv.includes('--quick');
  const out = argv.find((a) => a.startsWith('--out='))?.slice('--out='.length);
  for (const arg of argv) {
    if (arg !== '--quick' && !arg.startsWith('--out=')) throw new Error(`Unknown argument "${arg}". Use --quick (a short smoke run) and --out=<dir> (default bench/results).`);
  }
  // Per round and cell; a full run measures each cell for ROUNDS x durationMs.
  return { quick, out: resolve(out ?? join(__dirname, 'results')), warmupMs: quick ? 100 : 400, durationMs: quick ? 200 : 1600 };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const counter = new RoundTripCounter();
  const bench = await openBench(counter.afterCreate as never);
  const { db, postgresVersion, close } = bench;
  try {
    const rows: Row[] = [];
    for (const workload of WORKLOADS) {
      const samples = new Map<string, Sample[]>(VARIANTS.map((v) => [v.id, []]));
      const trips = new Map<string, number>();
      for (let round = 0; round < ROUNDS; round += 1) {
        const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
        for (const variant of order) {
          const once = requestsOf(bench, variant, workload, round);
          samples.get(variant.id)!.push(await sample(once, { concurrency: CONCURRENCY, warmupMs: args.warmupMs, durationMs: args.durationMs }));
          if (round === 0) {
            const counted = await counter.during(async () => {
              for (let i = 0; i < ROUND_TRIP_SAMPLES; i += 1) await once(0);
            });
            trips.set(variant.id, counted / ROUND_TRIP_SAMPLES);
          }
          if (workload.id === 3 || workload.id === 4) await resetInsertedRows(db);
        }
      }
      for (const variant of VARIANTS) {
        const own = samples.get(variant.id)!;
        const base = samples.get('a')!;
        const sameShape = samples.get(SAME_SHAPE[variant.id])!;
        const result = combine(own);
        rows.push({
          ...result,
          workload: workload.id,
          workloadLabel: workload.label,
          variant: variant.id,
          vsBaseline: medianRatio(own, base, (s) => s.throughput),
          timeVsBaseline: medianRatio(own, base, (s) => s.p50Ms),
          vsSameShape: medianRatio(own, sameShape, (s) => s.throughput),
          timeVsSameShape: medianRatio(own, sameShape, (s) => s.p50Ms),
          roundTripsPerOperation: trips.get(variant.id)!,
        });
        process.stdout.write(`  ${workload.id} (${variant.id}): ${result.throughput.toFixed(0)} ops/s\n`);
      }
    }
    const report: BenchReport = {
      date: new Date().toISOString(),
      machine: describeMachine(postgresVersion),
      settings: { poolSize: POOL_SIZE, concurrency: CONCURRENCY, rounds: ROUNDS, warmupSeconds: args.warmupMs / 1000, durationSeconds: args.durationMs / 1000, dataset: { ...DATASET } },
      variants: Object.fromEntries(VARIANTS.map((v) => [v.id, v.label])),
      rows,
      budget: checkBudget(rows),
    };
    mkdirSync(args.out, { recursive: true });
    writeFileSync(join(args.out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(args.out, 'latest.md'), `${markdownTable(report)}\n`);
    writeFileSync(join(args.out, 'chart.svg'), ratioChart(report));
    console.log(`\n${textTable(report)}\n\nwritten to ${args.out}/{latest.json,latest.md,chart.svg}`);
  } finally {
    await close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

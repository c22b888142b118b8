import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RoundTripCounter } from '../tests/support/round-trip-counter';
import { checkBudget } from './budget';
import { ratioChart } from './chart';
import { DATASET, resetInsertedRows } from './dataset';
import { describeMachine } from './machine';
import { combine, medianRatio, sample, type Sample } from './measure';
import { markdownTable, textTable, type BenchReport, type ResetRow, type Row } from './report';
import { CONCURRENCY, openBench, POOL_SIZE, requestsOf } from './setup';
import { VARIANTS, WITHOUT_RESET, type Variant } from './variants';
import { WORKLOADS } from './workloads';

// `npm run bench [-- --quick] [-- --out=<dir>]`: builds the data set, runs every workload under every
// variant with the same pool and concurrency (and (b), (c) once more without the session reset on the
// workloads of RESET_WORKLOADS, to measure what the reset costs), counts round trips, and writes the results.

const ROUND_TRIP_SAMPLES = 20;
// Each cell is measured in several rounds, the order of the variants rotating between rounds, so that
// drift (autovacuum, checkpoints, caches warming, noisy neighbours) does not favour whichever variant
// runs first; ratios are taken within a round (variants measured side by side), then their median.
const ROUNDS = 5;
// The unscoped variant each is compared with for "vs same shape": with or without em.transactional.
const SAME_SHAPE: Record<string, string> = { a: 'a', b: 'a', c: 'a+tx', d: 'a+tx', 'a+tx': 'a+tx' };
// Where the session reset's cost is measured ((b) and (c) with and without it): the point read, the
// list and the request, whose messages are short, so that a fixed cost per message weighs the most.
const RESET_WORKLOADS = [1, 2, 3];

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
    const sessionReset: ResetRow[] = [];
    for (const workload of WORKLOADS) {
      const measured: readonly Variant[] = RESET_WORKLOADS.includes(workload.id) ? [...VARIANTS, ...WITHOUT_RESET] : VARIANTS;
      const samples = new Map<string, Sample[]>(measured.map((v) => [v.id, []]));
      const trips = new Map<string, number>();
      for (let round = 0; round < ROUNDS; round += 1) {
        const order = measured.map((_, i) => measured[(i + round) % measured.length]);
        for (const variant of order) {
          const once = requestsOf(bench, variant, workload, round);
          samples.get(variant.id)!.push(await sample(once, { concurrency: CONCURRENCY, warmupMs: args.warmupMs, durationMs: args.durationMs }));
          if (round === 0) {
            let counted = 0;
            const stripped = await bench.withoutReset.during(async () => {
              counted = await counter.during(async () => {
                for (let i = 0; i < ROUND_TRIP_SAMPLES; i += 1) await once(0);
              });
            });
            trips.set(variant.id, counted / ROUND_TRIP_SAMPLES);
            if (WITHOUT_RESET.some((v) => v === variant) && stripped < ROUND_TRIP_SAMPLES) {
              throw new Error(
                `(${variant.id}) on workload ${workload.id}: the session reset was taken off ${stripped} messages in ${ROUND_TRIP_SAMPLES} operations, ` +
                  'so "without the reset" would measure it too. Its SQL or where it travels changed: update bench/without-session-reset.ts to match src/adapters/mikro-orm-6/wire/session-reset.ts.',
              );
            }
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
      for (const variant of measured === VARIANTS ? [] : WITHOUT_RESET) {
        const without = samples.get(variant.id)!;
        const withReset = samples.get(variant.of)!;
        const base = samples.get('a')!;
        sessionReset.push({
          workload: workload.id,
          workloadLabel: workload.label,
          variant: variant.of,
          withResetVsBaseline: medianRatio(withReset, base, (s) => s.throughput),
          withoutResetVsBaseline: medianRatio(without, base, (s) => s.throughput),
          withVsWithout: medianRatio(withReset, without, (s) => s.throughput),
          p50MsWith: combine(withReset).p50Ms,
          p50MsWithout: combine(without).p50Ms,
          roundTripsWith: trips.get(variant.of)!,
          roundTripsWithout: trips.get(variant.id)!,
        });
        process.stdout.write(`  ${workload.id} (${variant.id}): ${combine(without).throughput.toFixed(0)} ops/s\n`);
      }
    }
    const report: BenchReport = {
      date: new Date().toISOString(),
      machine: describeMachine(postgresVersion),
      settings: { poolSize: POOL_SIZE, concurrency: CONCURRENCY, rounds: ROUNDS, warmupSeconds: args.warmupMs / 1000, durationSeconds: args.durationMs / 1000, dataset: { ...DATASET } },
      variants: Object.fromEntries([...VARIANTS, ...WITHOUT_RESET].map((v) => [v.id, v.label])),
      rows,
      sessionReset,
      budget: checkBudget(rows, sessionReset),
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

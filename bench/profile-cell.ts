import { sample } from './measure';
import { CONCURRENCY, openBench, requestsOf } from './setup';
import { VARIANTS, WITHOUT_RESET } from './variants';
import { WORKLOADS } from './workloads';

// Runs one cell of the benchmark for a while, to profile where the time goes:
//   node --cpu-prof -r ts-node/register/transpile-only bench/profile-cell.ts <variant> <workload> [seconds]
// then open the .cpuprofile in Chrome DevTools (Performance) or any V8 profile viewer.

async function main(): Promise<void> {
  const [variantId, workloadId, seconds = '6'] = process.argv.slice(2);
  const variants = [...VARIANTS, ...WITHOUT_RESET];
  const variant = variants.find((v) => v.id === variantId);
  const workload = WORKLOADS.find((w) => String(w.id) === workloadId);
  if (!variant || !workload) {
    throw new Error(`Usage: profile-cell.ts <variant: ${variants.map((v) => v.id).join('|')}> <workload: 1-${WORKLOADS.length}> [seconds]`);
  }
  const bench = await openBench();
  try {
    const result = await sample(requestsOf(bench, variant, workload, 0), { concurrency: CONCURRENCY, warmupMs: 1000, durationMs: Number(seconds) * 1000 });
    console.log(`(${variant.id}) on workload ${workload.id}: ${(result.latenciesMs.length / result.seconds).toFixed(0)} ops/s, CPU ${JSON.stringify(process.cpuUsage())}`);
  } finally {
    await bench.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

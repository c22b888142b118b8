import { readFileSync } from 'node:fs';
import { RoundTripCounter } from '../../tests/support/round-trip-counter';
import { itemIdsByTenant } from '../dataset';
import { sample } from '../measure';
import { CONCURRENCY, requestsOf } from '../setup';
import { WORKLOADS } from '../workloads';
import { openOrms7 } from './orms';
import type { MikroOrm7PartInput } from './part';
import { V7_VARIANTS } from './variants';

// The MikroORM 7 side of `bench/profile-cell.ts --v7`: one cell of the benchmark for a while, in the
// Node 22 process that bench/profile-cell.ts starts with --cpu-prof, on the data set it built.
//   bench/v7/profile-cell.ts <input.json> <variant> <workload> <seconds>

async function main(): Promise<void> {
  const [inputFile, variantId, workloadId, seconds] = process.argv.slice(2);
  const { db } = JSON.parse(readFileSync(inputFile!, 'utf8')) as MikroOrm7PartInput;
  const variant = V7_VARIANTS.find((v) => v.id === variantId);
  const workload = WORKLOADS.find((w) => String(w.id) === workloadId);
  if (!variant || !workload) throw new Error(`Usage: bench/profile-cell.ts --v7 <variant: ${V7_VARIANTS.map((v) => v.id).join('|')}> <workload: 1-${WORKLOADS.length}> [seconds]`);
  const orms = await openOrms7(db, new RoundTripCounter());
  try {
    const source = { orms, ids: await itemIdsByTenant(db) };
    const result = await sample(requestsOf(source, variant, workload, 0), { concurrency: CONCURRENCY, warmupMs: 1000, durationMs: Number(seconds) * 1000 });
    console.log(`(${variant.id}) on workload ${workload.id}: ${(result.latenciesMs.length / result.seconds).toFixed(0)} ops/s, CPU ${JSON.stringify(process.cpuUsage())}`);
  } finally {
    await orms.rls.close(true);
    await orms.plain.close(true);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

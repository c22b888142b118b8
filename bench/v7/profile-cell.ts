import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { RoundTripCounter } from '../../tests/support/round-trip-counter';
import { itemIdsByTenant } from '../dataset';
import { sample } from '../measure';
import { CONCURRENCY, requestsOf } from '../setup';
import { WORKLOADS } from '../workloads';
import { openOrms7 } from './orms';
import type { MikroOrm7PartInput } from './part';
import { V7_VARIANTS } from './variants';

// The MikroORM 7 side of `bench/profile-cell.ts --v7`: one cell of the benchmark for a while, in a
// Node 22 process, on the data set bench/profile-cell.ts built; writes the CPU profile of the measured
// seconds only (start-up, ts-node's compiling and the warm-up left out) to
// mikro-orm-7-<variant>-<workload>.cpuprofile in the repository folder (where the child runs).
//   bench/v7/profile-cell.ts <input.json> <variant> <workload> <seconds>
//
// The warm-up runs the unscoped baseline in em.transactional once before the cell: MikroORM 7's
// transaction context is an AsyncLocalStorage, whose first use turns V8's promise hooks on for the whole
// process, as every bench run has them (its variants share one process). Without it a variant that never
// opens a transaction would be profiled without that cost and look cheaper than in the bench.

const warmTransactionContext = V7_VARIANTS.find((v) => v.id === 'a7+tx')!;

async function main(): Promise<void> {
  const [inputFile, variantId, workloadId, seconds] = process.argv.slice(2);
  const { db } = JSON.parse(readFileSync(inputFile!, 'utf8')) as MikroOrm7PartInput;
  const variant = V7_VARIANTS.find((v) => v.id === variantId);
  const workload = WORKLOADS.find((w) => String(w.id) === workloadId);
  if (!variant || !workload) throw new Error(`Usage: bench/profile-cell.ts --v7 <variant: ${V7_VARIANTS.map((v) => v.id).join('|')}> <workload: 1-${WORKLOADS.length}> [seconds]`);
  const orms = await openOrms7(db, new RoundTripCounter());
  const session = new Session();
  session.connect();
  try {
    const source = { orms, ids: await itemIdsByTenant(db) };
    await sample(requestsOf(source, warmTransactionContext, workload, 0), { concurrency: CONCURRENCY, warmupMs: 0, durationMs: 300 });
    await sample(requestsOf(source, variant, workload, 0), { concurrency: CONCURRENCY, warmupMs: 1000, durationMs: 0 });
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    const cpuBefore = process.cpuUsage();
    const result = await sample(requestsOf(source, variant, workload, 1), { concurrency: CONCURRENCY, warmupMs: 0, durationMs: Number(seconds) * 1000 });
    const cpu = process.cpuUsage(cpuBefore);
    const { profile } = await session.post('Profiler.stop');
    const file = `mikro-orm-7-${variant.id}-${workload.id}.cpuprofile`;
    writeFileSync(file, JSON.stringify(profile));
    const operations = result.latenciesMs.length;
    console.log(
      `(${variant.id}) on workload ${workload.id}: ${(operations / result.seconds).toFixed(0)} ops/s, ` +
        `${((cpu.user + cpu.system) / operations).toFixed(0)} µs CPU per operation (profiling included); profile: ${file}`,
    );
  } finally {
    session.disconnect();
    await orms.rls.close(true);
    await orms.plain.close(true);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

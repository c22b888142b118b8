import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sample } from './measure';
import { CONCURRENCY, openBench, requestsOf } from './setup';
import { VARIANTS, WITHOUT_RESET } from './variants';
import { runOnNode22, writePartInput } from './v7/run-part';
import { WORKLOADS } from './workloads';

// Runs one cell of the benchmark for a while, to profile where the time goes:
//   node --cpu-prof -r ts-node/register/transpile-only bench/profile-cell.ts <variant> <workload> [seconds]
// then open the .cpuprofile in Chrome DevTools (Performance) or any V8 profile viewer. A MikroORM 7
// variant (a7, n7, b7, ...) with --v7: the data set is built here and the cell runs in a Node 22 child,
// which writes the profile of the measured seconds alone to the repository folder (bench/v7/profile-cell.ts).
//   node -r ts-node/register/transpile-only bench/profile-cell.ts --v7 <variant> <workload> [seconds]
// With --v7 --cpu, no profile: the CPU per operation (Node.js's and the database backends') of several
// MikroORM 7 variants, interleaved round by round (bench/v7/cpu-per-op.ts), steadier than ops/s on a
// busy machine.
//   node -r ts-node/register/transpile-only bench/profile-cell.ts --v7 --cpu a7,b7 <workload> [seconds] [rounds]

async function main(): Promise<void> {
  if (process.argv[2] === '--v7') return profileMikroOrm7Cell(process.argv.slice(3));
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

async function profileMikroOrm7Cell(args: string[]): Promise<void> {
  const cpu = args[0] === '--cpu';
  const [variantId, workloadId, seconds = cpu ? '3' : '6', rounds = '5'] = cpu ? args.slice(1) : args;
  const bench = await openBench();
  const dir = mkdtempSync(join(tmpdir(), 'mikro-orm-rls-profile-v7-'));
  try {
    await bench.closeOrms();
    const input = writePartInput(dir, { db: bench.db, timing: { concurrency: CONCURRENCY, warmupMs: 0, durationMs: 0 } });
    if (cpu) await runOnNode22(join(__dirname, 'v7', 'cpu-per-op.ts'), [input, variantId ?? '', workloadId ?? '', seconds, rounds]);
    else await runOnNode22(join(__dirname, 'v7', 'profile-cell.ts'), [input, variantId ?? '', workloadId ?? '', seconds]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await bench.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

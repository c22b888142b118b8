import { readFileSync } from 'node:fs';
import { RoundTripCounter } from '../../tests/support/round-trip-counter';
import { runSql } from '../../tests/support/sql-client';
import { itemIdsByTenant } from '../dataset';
import { sample } from '../measure';
import { CONCURRENCY, requestsOf } from '../setup';
import { WORKLOADS } from '../workloads';
import { openOrms7 } from './orms';
import type { MikroOrm7PartInput } from './part';
import { V7_VARIANTS } from './variants';

// The MikroORM 7 side of `bench/profile-cell.ts --v7 --cpu`: CPU time per operation of some cells, the
// variants interleaved round by round. Throughput on a shared 2-core machine swings with whatever else
// runs; the CPU an operation costs (this process's, and the database backends' from /proc) moves less,
// and on this bench, where Node.js is the bottleneck, its own CPU per operation is what sets throughput.
//   bench/v7/cpu-per-op.ts <input.json> <variants, comma-separated> <workload> <seconds> <rounds>

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of every backend of the bench database, in microseconds. */
async function backendCpuMicros(superUrl: string): Promise<number> {
  const rows = await runSql<{ pid: number }>(superUrl, `select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`);
  let ticks = 0;
  for (const { pid } of rows) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // A backend that ended between the query and the read has no CPU left to count.
    }
  }
  return (ticks / TICKS_PER_SECOND) * 1e6;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const [inputFile, variantIds, workloadId, seconds, rounds] = process.argv.slice(2);
  const { db } = JSON.parse(readFileSync(inputFile!, 'utf8')) as MikroOrm7PartInput;
  const variants = variantIds!.split(',').map((id) => V7_VARIANTS.find((v) => v.id === id) ?? id);
  const workload = WORKLOADS.find((w) => String(w.id) === workloadId);
  const unknown = variants.filter((v) => typeof v === 'string');
  if (unknown.length || !workload) throw new Error(`Unknown variant ${unknown.join(', ')} or workload ${workloadId}; variants: ${V7_VARIANTS.map((v) => v.id).join(', ')}`);
  const orms = await openOrms7(db, new RoundTripCounter());
  const source = { orms, ids: await itemIdsByTenant(db) };
  const perVariant = new Map<string, { node: number[]; db: number[]; opsPerSecond: number[] }>();
  try {
    for (let round = 0; round < Number(rounds); round++) {
      for (const variant of variants as typeof V7_VARIANTS) {
        const requests = requestsOf(source, variant, workload, round);
        await sample(requests, { concurrency: CONCURRENCY, warmupMs: 0, durationMs: 500 });
        const nodeBefore = process.cpuUsage();
        const dbBefore = await backendCpuMicros(db.superUrl);
        const result = await sample(requests, { concurrency: CONCURRENCY, warmupMs: 0, durationMs: Number(seconds) * 1000 });
        const node = process.cpuUsage(nodeBefore);
        const dbMicros = (await backendCpuMicros(db.superUrl)) - dbBefore;
        const ops = result.latenciesMs.length;
        const cell = perVariant.get(variant.id) ?? { node: [], db: [], opsPerSecond: [] };
        cell.node.push((node.user + node.system) / ops);
        cell.db.push(dbMicros / ops);
        cell.opsPerSecond.push(ops / result.seconds);
        perVariant.set(variant.id, cell);
      }
    }
    for (const [id, cell] of perVariant) {
      const fmt = (values: number[]) => values.map((v) => v.toFixed(0)).join(' ');
      console.log(`(${id}) workload ${workload.id}: node µs/op median ${median(cell.node).toFixed(0)} [${fmt(cell.node)}], postgres µs/op median ${median(cell.db).toFixed(0)} [${fmt(cell.db)}], ops/s median ${median(cell.opsPerSecond).toFixed(0)}`);
    }
  } finally {
    await orms.rls.close(true);
    await orms.plain.close(true);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

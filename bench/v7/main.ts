import { readFileSync, writeFileSync } from 'node:fs';
import { RoundTripCounter } from '../../tests/support/round-trip-counter';
import { itemIdsByTenant, resetInsertedRows } from '../dataset';
import { medianRatio } from '../measure';
import { measureWorkload, rowOf } from '../rounds';
import { requestsOf } from '../setup';
import type { ItemRow } from '../variants';
import { WORKLOADS } from '../workloads';
import type { MikroOrm7Part, MikroOrm7PartInput, V7Row } from './part';
import { openOrms7 } from './orms';
import { V7_BASELINE, V7_VARIANTS, type Orms7 } from './variants';

// The MikroORM 7 part of `npm run bench`: started by bench/v7/run-part.ts on the Node 22 of v7/, with
// bench/v7/resolve-to-v7-tree.cjs preloaded (MikroORM 7 and pg from v7/node_modules) and ts-node.
//   node -r ./bench/v7/resolve-to-v7-tree.cjs -r ts-node/register/transpile-only bench/v7/main.ts <input.json> <output.json>
// Same data set, workloads, pool, concurrency, seeds and rounds as the MikroORM 6 part.

/**
 * Before anything is timed: every variant's list reads 20 rows of the tenant, and only the tenant's.
 * A variant whose scope did not reach the policy would read none and look fast.
 */
async function assertEveryVariantReadsTheTenantsRows(orms: Orms7): Promise<void> {
  const tenantId = 1;
  for (const variant of V7_VARIANTS) {
    const rows = (await variant.run(orms, tenantId, (em, target) => em.find(target.entity, target.filter, { limit: 20 }))) as ItemRow[];
    if (rows.length !== 20 || rows.some((r) => r.tenantId !== tenantId)) {
      throw new Error(`(${variant.id}) read ${rows.length} rows for tenant ${tenantId}, of tenants ${[...new Set(rows.map((r) => r.tenantId))].join(', ') || 'none'}: its scope does not reach the policy of bench/entities.ts (expected 20 rows of tenant ${tenantId}).`);
    }
  }
}

async function main(): Promise<void> {
  const [inputFile, outputFile] = process.argv.slice(2);
  if (!inputFile || !outputFile) throw new Error('Usage: bench/v7/main.ts <input.json> <output.json> (bench/main.ts starts it; run npm run bench).');
  const { db, timing } = JSON.parse(readFileSync(inputFile, 'utf8')) as MikroOrm7PartInput;
  const counter = new RoundTripCounter();
  const orms = await openOrms7(db, counter);
  try {
    await assertEveryVariantReadsTheTenantsRows(orms);
    const source = { orms, ids: await itemIdsByTenant(db) };
    const byId = new Map(V7_VARIANTS.map((v) => [v.id, v]));
    const rows: V7Row[] = [];
    for (const workload of WORKLOADS) {
      const cells = await measureWorkload(
        {
          variantIds: V7_VARIANTS.map((v) => v.id),
          requests: (id, round) => requestsOf(source, byId.get(id)!, workload, round),
          countRoundTrips: (_id, run) => counter.during(run),
          ...((workload.id === 3 || workload.id === 4) && { afterCell: () => resetInsertedRows(db) }),
        },
        timing,
      );
      for (const variant of V7_VARIANTS) {
        const row = rowOf(cells, workload, variant.id, V7_BASELINE, variant.sameShape);
        rows.push({ ...row, vsNative: medianRatio(cells.samples.get(variant.id)!, cells.samples.get(variant.nativeOfSameShape)!, (s) => s.throughput) });
        process.stdout.write(`  ${workload.id} (${variant.id}): ${row.throughput.toFixed(0)} ops/s\n`);
      }
    }
    const part: MikroOrm7Part = {
      node: process.version,
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mikroOrm: (require('@mikro-orm/core/package.json') as { version: string }).version,
      variants: Object.fromEntries(V7_VARIANTS.map((v) => [v.id, v.label])),
      rows,
    };
    writeFileSync(outputFile, `${JSON.stringify(part)}\n`);
  } finally {
    await orms.rls.close(true);
    await orms.plain.close(true);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

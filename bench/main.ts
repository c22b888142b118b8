import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RoundTripCounter } from '../tests/support/round-trip-counter';
import { checkBudget } from './budget';
import { ratioChart, ratioChartV7 } from './chart';
import { DATASET, resetInsertedRows } from './dataset';
import { describeMachine } from './machine';
import { combine, medianRatio } from './measure';
import { markdownTable, textTable, type BenchReport, type ResetRow, type Row } from './report';
import { measureWorkload, ROUND_TRIP_SAMPLES, ROUNDS, rowOf, type Timing } from './rounds';
import { ddlMarkdown, ddlText, type DdlReport, type RecordedDdlRun } from './ddl/ddl-report';
import { runDdlSection } from './ddl/ddl-section';
import { benchServer, CONCURRENCY, openBench, POOL_SIZE, requestsOf, serverVersion } from './setup';
import { checkV7Budget } from './v7/budget';
import { runMikroOrm7Part } from './v7/run-part';
import { VARIANTS, WITHOUT_RESET, type Variant } from './variants';
import { WORKLOADS } from './workloads';

// `npm run bench [-- --quick] [-- --out=<dir>] [-- --only=ddl]`: builds the data set, runs every workload
// under every variant with the same pool and concurrency (and (b), (c) once more without the session reset
// on the workloads of RESET_WORKLOADS, to measure what the reset costs), counts round trips; then the
// MikroORM 7 variants on the same data set, in a Node 22 child process (bench/v7); then the DDL section
// (createPolicies on thousands of tables, bench/ddl); and writes the results. `--only=ddl` runs the DDL
// section alone (and writes only its files).

// The unscoped variant each is compared with for "vs same shape": with or without em.transactional.
const SAME_SHAPE: Record<string, string> = { a: 'a', b: 'a', c: 'a+tx', d: 'a+tx', 'a+tx': 'a+tx' };
// Where the session reset's cost is measured ((b) and (c) with and without it): the point read, the
// list and the request, whose messages are short, so that a fixed cost per message weighs the most.
const RESET_WORKLOADS = [1, 2, 3];

function parseArgs(argv: string[]) {
  const quick = argv.includes('--quick');
  const out = argv.find((a) => a.startsWith('--out='))?.slice('--out='.length);
  const onlyDdl = argv.includes('--only=ddl');
  for (const arg of argv) {
    if (arg !== '--quick' && arg !== '--only=ddl' && !arg.startsWith('--out=')) {
      throw new Error(`Unknown argument "${arg}". Use --quick (a short smoke run), --out=<dir> (default bench/results) and --only=ddl (the DDL section alone).`);
    }
  }
  // Per round and cell; a full run measures each cell for ROUNDS x durationMs.
  const timing: Timing = { concurrency: CONCURRENCY, warmupMs: quick ? 100 : 400, durationMs: quick ? 200 : 1600 };
  return { quick, onlyDdl, out: resolve(out ?? join(__dirname, 'results')), timing };
}

/** The DDL section's run on the code before issue 14's change, shown next to the new one (see RecordedDdlRun). */
const DDL_BEFORE = join(__dirname, 'results', 'ddl-before.json');

function writeDdlResults(out: string, report: DdlReport): void {
  mkdirSync(out, { recursive: true });
  const before = existsSync(DDL_BEFORE) ? (JSON.parse(readFileSync(DDL_BEFORE, 'utf8')) as RecordedDdlRun) : undefined;
  writeFileSync(join(out, 'ddl.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, 'ddl.md'), `${ddlMarkdown(report, before)}\n`);
  console.log(`\n${ddlText(report)}\n\nwritten to ${out}/{ddl.json,ddl.md}`);
}

/** `--only=ddl`: the server, and the DDL section alone (no data set). */
async function ddlOnly(args: ReturnType<typeof parseArgs>): Promise<void> {
  const server = await benchServer();
  try {
    writeDdlResults(args.out, await runDdlSection(server.url, args.quick, await serverVersion(server.url)));
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.onlyDdl) return ddlOnly(args);
  const counter = new RoundTripCounter();
  const bench = await openBench(counter.afterCreate as never);
  const { db, postgresVersion, close } = bench;
  try {
    const rows: Row[] = [];
    const sessionReset: ResetRow[] = [];
    for (const workload of WORKLOADS) {
      const measured: readonly Variant[] = RESET_WORKLOADS.includes(workload.id) ? [...VARIANTS, ...WITHOUT_RESET] : VARIANTS;
      const byId = new Map(measured.map((v) => [v.id, v]));
      const cells = await measureWorkload(
        {
          variantIds: measured.map((v) => v.id),
          requests: (id, round) => requestsOf(bench, byId.get(id)!, workload, round),
          countRoundTrips: async (id, run) => {
            let counted = 0;
            const stripped = await bench.withoutReset.during(async () => {
              counted = await counter.during(run);
            });
            if (WITHOUT_RESET.some((v) => v.id === id) && stripped < ROUND_TRIP_SAMPLES) {
              throw new Error(
                `(${id}) on workload ${workload.id}: the session reset was taken off ${stripped} messages in ${ROUND_TRIP_SAMPLES} operations, ` +
                  'so "without the reset" would measure it too. Its SQL or where it travels changed: update bench/without-session-reset.ts to match src/adapters/mikro-orm-6/wire/session-reset.ts.',
              );
            }
            return counted;
          },
          ...((workload.id === 3 || workload.id === 4) && { afterCell: () => resetInsertedRows(db) }),
        },
        args.timing,
      );
      for (const variant of VARIANTS) {
        const row = rowOf(cells, workload, variant.id, 'a', SAME_SHAPE[variant.id]);
        rows.push(row);
        process.stdout.write(`  ${workload.id} (${variant.id}): ${row.throughput.toFixed(0)} ops/s\n`);
      }
      for (const variant of measured === VARIANTS ? [] : WITHOUT_RESET) {
        const without = cells.samples.get(variant.id)!;
        const withReset = cells.samples.get(variant.of)!;
        const base = cells.samples.get('a')!;
        sessionReset.push({
          workload: workload.id,
          workloadLabel: workload.label,
          variant: variant.of,
          withResetVsBaseline: medianRatio(withReset, base, (s) => s.throughput),
          withoutResetVsBaseline: medianRatio(without, base, (s) => s.throughput),
          withVsWithout: medianRatio(withReset, without, (s) => s.throughput),
          p50MsWith: combine(withReset).p50Ms,
          p50MsWithout: combine(without).p50Ms,
          roundTripsWith: cells.trips.get(variant.of)!,
          roundTripsWithout: cells.trips.get(variant.id)!,
        });
        process.stdout.write(`  ${workload.id} (${variant.id}): ${combine(without).throughput.toFixed(0)} ops/s\n`);
      }
    }
    // After the MikroORM 6 part, on the same server and data set, so the two parts never share the CPU;
    // its pools closed first, so the server holds the MikroORM 7 part's connections only.
    await bench.closeOrms();
    const mikroOrm7 = await runMikroOrm7Part(db, args.timing);
    const ddl = await runDdlSection(db.superUrl, args.quick, postgresVersion);
    const report: BenchReport = {
      date: new Date().toISOString(),
      machine: describeMachine(postgresVersion),
      settings: { poolSize: POOL_SIZE, concurrency: CONCURRENCY, rounds: ROUNDS, warmupSeconds: args.timing.warmupMs / 1000, durationSeconds: args.timing.durationMs / 1000, dataset: { ...DATASET } },
      variants: Object.fromEntries([...VARIANTS, ...WITHOUT_RESET].map((v) => [v.id, v.label])),
      rows,
      sessionReset,
      mikroOrm7,
      budget: [...checkBudget(rows, sessionReset), ...checkV7Budget(mikroOrm7.rows)],
    };
    mkdirSync(args.out, { recursive: true });
    writeFileSync(join(args.out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(args.out, 'latest.md'), `${markdownTable(report)}\n`);
    writeFileSync(join(args.out, 'chart.svg'), ratioChart(report));
    writeFileSync(join(args.out, 'chart-v7.svg'), ratioChartV7(report));
    console.log(`\n${textTable(report)}\n\nwritten to ${args.out}/{latest.json,latest.md,chart.svg,chart-v7.svg}`);
    writeDdlResults(args.out, ddl);
  } finally {
    await close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ratioChart, ratioChartV7 } from '../bench/chart';
import type { DdlReport, RecordedDdlRun } from '../bench/ddl/ddl-report';
import type { BenchReport } from '../bench/report';

// The README shows the committed benchmark results; they must be the ones in bench/results, complete
// and with the machine they were measured on. (Nothing is timed here: the numbers come from `npm run bench`.)

const root = join(__dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const report = JSON.parse(read('bench/results/latest.json')) as BenchReport;

it('the README shows exactly the table of bench/results/latest.md, and embeds the charts of both majors', () => {
  const readme = read('README.md');
  const block = /<!-- bench:start -->\n([\s\S]*?)<!-- bench:end -->/.exec(readme)?.[1];
  expect(block).toBe(read('bench/results/latest.md'));
  expect(readme).toContain('](bench/results/chart.svg)');
  expect(readme).toContain('](bench/results/chart-v7.svg)');
  for (const chart of ['chart.svg', 'chart-v7.svg']) expect(read(`bench/results/${chart}`)).toMatch(/^<svg [\s\S]*<\/svg>\n$/);
  // Each chart is the one bench/chart.ts draws from the committed results, not an older drawing.
  expect(read('bench/results/chart.svg')).toBe(ratioChart(report));
  expect(read('bench/results/chart-v7.svg')).toBe(ratioChartV7(report));
});

it('the committed results cover every workload and variant, with counted round trips and the machine', () => {
  expect(report.rows.map((r) => `${r.workload}${r.variant}`).sort()).toEqual(
    [1, 2, 3, 4, 5].flatMap((w) => ['a', 'a+tx', 'b', 'c', 'd'].map((v) => `${w}${v}`)).sort(),
  );
  for (const row of report.rows) {
    expect(row.operations).toBeGreaterThan(100);
    expect(Number.isFinite(row.vsBaseline) && Number.isFinite(row.p99Ms)).toBe(true);
    expect(Number.isInteger(row.roundTripsPerOperation)).toBe(true);
  }
  expect(report.machine).toMatchObject({ cores: expect.any(Number), cpu: expect.any(String), postgres: expect.any(String) });
  expect(report.settings.dataset).toMatchObject({ items: 100_000 });
});

it('the committed results measure the session reset on workloads 1 to 3, with no extra round trip', () => {
  expect(report.sessionReset.map((r) => `${r.workload}${r.variant}`).sort()).toEqual(['1b', '1c', '2b', '2c', '3b', '3c']);
  for (const r of report.sessionReset) {
    expect([r.withResetVsBaseline, r.withoutResetVsBaseline, r.withVsWithout].every(Number.isFinite)).toBe(true);
    expect(r.roundTripsWith).toBe(r.roundTripsWithout);
  }
});

it('the committed results cover the MikroORM 7 variants on every workload, with counted round trips and the MikroORM and Node they ran on', () => {
  const part = report.mikroOrm7;
  expect(part).toMatchObject({ mikroOrm: expect.stringMatching(/^7\./), node: expect.stringMatching(/^v22\./) });
  expect(part.rows.map((r) => `${r.workload}${r.variant}`).sort()).toEqual(
    [1, 2, 3, 4, 5].flatMap((w) => ['a7', 'a7+tx', 'n7', 'n7+tx', 'b7', 'c7'].map((v) => `${w}${v}`)).sort(),
  );
  for (const row of part.rows) {
    expect(row.operations).toBeGreaterThan(100);
    expect([row.vsBaseline, row.vsSameShape, row.vsNative, row.p99Ms].every(Number.isFinite)).toBe(true);
    expect(Number.isInteger(row.roundTripsPerOperation)).toBe(true);
  }
  expect(report.budget.filter((b) => b.rule.startsWith('MikroORM 7:')).length).toBeGreaterThan(0);
});

it('the README shows exactly the DDL table of bench/results/ddl.md, measured on both majors at 1,000 and 3,000 tables, with the run before the change', () => {
  const ddl = JSON.parse(read('bench/results/ddl.json')) as DdlReport;
  const before = JSON.parse(read('bench/results/ddl-before.json')) as RecordedDdlRun;
  const block = /<!-- bench-ddl:start -->\n([\s\S]*?)<!-- bench-ddl:end -->/.exec(read('README.md'))?.[1];
  expect(block).toBe(read('bench/results/ddl.md'));
  for (const run of [ddl, before.report]) {
    expect(run.rows.map((r) => `${r.major} ${r.tables} ${r.path} ${r.run}`).sort()).toEqual(
      [6, 7].flatMap((major) => [1000, 3000].flatMap((tables) => ['createPolicies', 'oneStatementPerRoundTrip'].flatMap((path) => ['fresh', 'no change'].map((r) => `${major} ${tables} ${path} ${r}`)))).sort(),
    );
    expect(run.machine).toMatchObject({ cores: expect.any(Number), cpu: expect.any(String), postgres: expect.any(String) });
    expect(run.server.maxLocksPerTransaction).toBe(64);
  }
  expect(before.commit).toMatch(/^[0-9a-f]{7,40}$/);
  // The shipped createPolicies measured at every size, with round trips counted.
  for (const row of ddl.rows.filter((r) => r.path === 'createPolicies')) {
    expect(row.error).toBeUndefined();
    expect(row.samples).toHaveLength(ddl.plan.rounds);
    expect(row.samples.every((s) => Number.isInteger(s.roundTrips) && s.ms > 0)).toBe(true);
  }
});

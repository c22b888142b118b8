import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ratioChart, ratioChartV7 } from './chart';
import type { BenchReport } from './report';

// Draws the charts again from committed results, without measuring (after a change to bench/chart.ts):
//   node -r ts-node/register/transpile-only bench/charts-from-results.ts [results folder]

const folder = process.argv[2] ?? join(__dirname, 'results');
const report = JSON.parse(readFileSync(join(folder, 'latest.json'), 'utf8')) as BenchReport;
writeFileSync(join(folder, 'chart.svg'), ratioChart(report));
writeFileSync(join(folder, 'chart-v7.svg'), ratioChartV7(report));
console.log(`written to ${folder}/{chart.svg,chart-v7.svg}`);

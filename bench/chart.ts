import type { BenchReport, Row } from './report';

/** What one chart shows: the rows, the variants drawn (in order) with their colours and legends, a title. */
interface ChartSpec {
  title: string;
  rows: readonly Row[];
  series: readonly { variant: string; color: string; legend: string }[];
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** MikroORM 6: throughput of the scoped variants relative to (a). */
export function ratioChart(report: BenchReport): string {
  return groupedBars({
    title: 'MikroORM 6: throughput relative to (a), plain MikroORM without RLS or transaction = 1.0',
    rows: report.rows,
    series: [
      { variant: 'b', color: '#2b7bb9', legend: '(b) forkWithRls' },
      { variant: 'c', color: '#1a9850', legend: '(c) forkWithRls in em.transactional' },
      { variant: 'd', color: '#d73027', legend: '(d) by hand: set_config in em.transactional' },
      { variant: 'a+tx', color: '#999999', legend: '(a+tx) no RLS, in em.transactional' },
    ],
  });
}

/** MikroORM 7: this package's variants and MikroORM 7's native session context, relative to (a7). */
export function ratioChartV7(report: BenchReport): string {
  return groupedBars({
    title: 'MikroORM 7: throughput relative to (a7), plain MikroORM 7 without RLS or transaction = 1.0',
    rows: report.mikroOrm7.rows,
    series: [
      { variant: 'b7', color: '#2b7bb9', legend: '(b7) forkWithRls' },
      { variant: 'c7', color: '#1a9850', legend: '(c7) forkWithRls in em.transactional' },
      { variant: 'n7', color: '#fc8d59', legend: '(n7) native session context' },
      { variant: 'n7+tx', color: '#d73027', legend: '(n7+tx) native session context in em.transactional' },
      { variant: 'a7+tx', color: '#999999', legend: '(a7+tx) no RLS, in em.transactional' },
    ],
  });
}

/**
 * A grouped bar chart of `vsBaseline`, one group per workload, as self-contained SVG (no fonts or
 * scripts to load), so the README can embed it directly.
 */
function groupedBars({ title, rows, series }: ChartSpec): string {
  const drawn = series.filter((s) => rows.some((r) => r.variant === s.variant));
  const workloads = [...new Map(rows.map((r) => [r.workload, r.workloadLabel])).entries()];
  const bar = 14;
  const groupGap = 18;
  const left = 330;
  const plotWidth = 420;
  const legendRows = Math.ceil(drawn.length / 2);
  const top = 38 + legendRows * 14;
  const maxRatio = Math.max(1.2, ...rows.map((r) => (Number.isFinite(r.vsBaseline) ? r.vsBaseline : 0)));
  const x = (ratio: number) => left + (Math.min(ratio, maxRatio) / maxRatio) * plotWidth;
  const groupHeight = drawn.length * bar + groupGap;
  const height = top + workloads.length * groupHeight + 40;
  const width = left + plotWidth + 70;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  drawn.forEach((s, i) => {
    const lx = 10 + (i % 2) * 340;
    const ly = 26 + Math.floor(i / 2) * 14;
    parts.push(`<rect x="${lx}" y="${ly}" width="10" height="10" fill="${s.color}"/>`, `<text x="${lx + 14}" y="${ly + 9}">${escapeXml(s.legend)}</text>`);
  });
  for (let tick = 0; tick <= maxRatio + 1e-9; tick += 0.2) {
    const tx = x(tick);
    parts.push(
      `<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${height - 32}" stroke="${Math.abs(tick - 1) < 1e-9 ? '#333333' : '#e0e0e0'}" stroke-width="1"/>`,
      `<text x="${tx}" y="${height - 18}" text-anchor="middle">${tick.toFixed(1)}</text>`,
    );
  }
  workloads.forEach(([id, label], g) => {
    const gy = top + g * groupHeight;
    parts.push(`<text x="${left - 8}" y="${gy + (drawn.length * bar) / 2 + 4}" text-anchor="end">${escapeXml(`${id}. ${label}`)}</text>`);
    drawn.forEach((s, i) => {
      const r = rows.find((row) => row.workload === id && row.variant === s.variant);
      if (!r) return;
      const y = gy + i * bar;
      parts.push(
        `<rect x="${left}" y="${y + 1}" width="${Math.max(0, x(r.vsBaseline) - left)}" height="${bar - 2}" fill="${s.color}"/>`,
        `<text x="${x(r.vsBaseline) + 4}" y="${y + bar - 3}" font-size="10">${r.vsBaseline.toFixed(2)}</text>`,
      );
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

import type { BenchReport } from './report';

const COLORS: Record<string, string> = { b: '#2b7bb9', c: '#1a9850', d: '#d73027', 'a+tx': '#999999' };
const LEGEND: Record<string, string> = {
  b: '(b) forkWithRls',
  c: '(c) forkWithRls in em.transactional',
  d: '(d) by hand: set_config in em.transactional',
  'a+tx': '(a+tx) no RLS, in em.transactional',
};
const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A grouped bar chart of throughput relative to the baseline (a), one group per workload, as
 * self-contained SVG (no fonts or scripts to load), so the README can embed it directly.
 */
export function ratioChart(report: BenchReport): string {
  const variants = Object.keys(COLORS).filter((v) => report.rows.some((r) => r.variant === v));
  const workloads = [...new Map(report.rows.map((r) => [r.workload, r.workloadLabel])).entries()];
  const bar = 14;
  const groupGap = 18;
  const left = 330;
  const plotWidth = 420;
  const top = 66;
  const maxRatio = Math.max(1.2, ...report.rows.map((r) => (Number.isFinite(r.vsBaseline) ? r.vsBaseline : 0)));
  const x = (ratio: number) => left + (Math.min(ratio, maxRatio) / maxRatio) * plotWidth;
  const groupHeight = variants.length * bar + groupGap;
  const height = top + workloads.length * groupHeight + 40;
  const width = left + plotWidth + 70;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">Throughput relative to (a), plain MikroORM without RLS and without a transaction = 1.0</text>`,
  ];
  variants.forEach((v, i) => {
    const lx = 10 + (i % 2) * 340;
    const ly = 26 + Math.floor(i / 2) * 14;
    parts.push(`<rect x="${lx}" y="${ly}" width="10" height="10" fill="${COLORS[v]}"/>`, `<text x="${lx + 14}" y="${ly + 9}">${escapeXml(LEGEND[v])}</text>`);
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
    parts.push(`<text x="${left - 8}" y="${gy + (variants.length * bar) / 2 + 4}" text-anchor="end">${escapeXml(`${id}. ${label}`)}</text>`);
    variants.forEach((v, i) => {
      const r = report.rows.find((row) => row.workload === id && row.variant === v);
      if (!r) return;
      const y = gy + i * bar;
      parts.push(
        `<rect x="${left}" y="${y + 1}" width="${Math.max(0, x(r.vsBaseline) - left)}" height="${bar - 2}" fill="${COLORS[v]}"/>`,
        `<text x="${x(r.vsBaseline) + 4}" y="${y + bar - 3}" font-size="10">${r.vsBaseline.toFixed(2)}</text>`,
      );
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

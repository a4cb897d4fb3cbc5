// The live view's chart: one small inline SVG per ring, time on x and a rate (0..100%) on y, with
// the ring's exposure, its install failure rate, its post-commit failure rate and its control
// cohort's rate. Built from numbers only, so the markup needs no escaping beyond the ring name.
import { escapeHtml } from './html.js';
import type { Sample } from './rollout-history.js';

const W = 360;
const H = 120;
const PAD = { left: 34, right: 8, top: 8, bottom: 18 };

export const SERIES = [
  { key: 'exposure', label: 'exposure', className: 'exposure' },
  { key: 'failureRate', label: 'install failures', className: 'failures' },
  { key: 'postCommitRate', label: 'post-commit failures', className: 'postcommit' },
  { key: 'controlRate', label: 'control cohort', className: 'control' },
] as const;

type SeriesKey = (typeof SERIES)[number]['key'];

/** Points of one series as an SVG path ("M x y L x y ..."), gaps where the value is unknown. */
export function seriesPath(points: Array<{ at: number; value: number | null }>, t0: number, t1: number, yMax: number): string {
  const span = Math.max(t1 - t0, 1);
  const x = (t: number) => PAD.left + ((t - t0) / span) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - Math.min(v, yMax) / yMax) * (H - PAD.top - PAD.bottom);
  let d = '';
  let drawing = false;
  for (const p of points) {
    if (p.value === null) {
      drawing = false;
      continue;
    }
    d += `${drawing ? 'L' : 'M'}${x(p.at).toFixed(1)} ${y(p.value).toFixed(1)} `;
    drawing = true;
  }
  return d.trim();
}

/** One chart for one ring; an empty string when the ring has no sample yet. */
export function ringChart(ring: string, samples: readonly Sample[]): string {
  const rows = samples.map((s) => ({ at: s.at, r: s.rings.find((r) => r.ring === ring) })).filter((s) => s.r);
  if (rows.length === 0) return '';
  const t0 = rows[0]!.at;
  const t1 = rows[rows.length - 1]!.at;
  const yMax = 1;
  const lines = SERIES.map((s) => {
    const d = seriesPath(rows.map((row) => ({ at: row.at, value: row.r![s.key as SeriesKey] })), t0, t1, yMax);
    return d ? `<path class="series ${s.className}" d="${d}"><title>${s.label}</title></path>` : '';
  }).join('');
  const grid = [0, 0.5, 1]
    .map((v) => {
      const y = (PAD.top + (1 - v) * (H - PAD.top - PAD.bottom)).toFixed(1);
      return `<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}"/><text class="axis" x="2" y="${(Number(y) + 4).toFixed(1)}">${v * 100}%</text>`;
    })
    .join('');
  const seconds = Math.round((t1 - t0) / 1000);
  return (
    `<svg class="chart" role="img" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" aria-label="ring ${escapeHtml(ring)}: exposure and failure rates over ${seconds} s">` +
    grid +
    `<text class="axis" x="${PAD.left}" y="${H - 4}">${rows.length} samples, ${seconds} s</text>` +
    lines +
    '</svg>'
  );
}

export function chartLegend(): string {
  return `<p class="legend">${SERIES.map((s) => `<span class="key ${s.className}"></span>${s.label}`).join(' ')}</p>`;
}

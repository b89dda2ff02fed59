import type { RequestRecord } from '../../harness/load.ts';
import { percentile } from '../summary.ts';
import type { HostInfo } from '../host-info.ts';
import type { StrategyRun } from '../types.ts';

/**
 * Latency over time, one panel per strategy, hand-written SVG. Per 2-px column: the range of the
 * answered GET / and POST requests (grey; GET /slow is left out, its latency is the client's choice),
 * fast-GET p50 (blue) and p99 (orange); failed requests (every kind) as red dots at their start and
 * latency; switch windows shaded with their cycle's label, and vertical markers.
 */

const WIDTH = 1100;
const PANEL = 190;
const LEFT = 64;
const RIGHT = 16;
const TOP = 26;
const BOTTOM = 28;
const GAP = 18;
const HEADER = 62;
const BIN_PX = 2;
const Y_MIN = 0.5; // ms
const Y_MAX = 20_000;

const MARK_STYLE: Record<string, string> = {
  'switch-start': 'stroke="#2e7d32" stroke-width="1"',
  switch: 'stroke="#2e7d32" stroke-width="1.5"',
  sigterm: 'stroke="#6a1b9a" stroke-width="1.5"',
  exit: 'stroke="#222" stroke-width="1" stroke-dasharray="3,2"',
  drain: 'stroke="#222" stroke-width="1" stroke-dasharray="3,2"',
};

const escapeXml = (text: string) => text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
const fixed = (n: number) => n.toFixed(1);

export function svgTitle(cycles: number, host: HostInfo): string {
  return `Switchyard bench: latency over time, ${cycles} cycles per strategy (${host.date.slice(0, 16).replace('T', ' ')} UTC)`;
}

export function renderSvg(runs: StrategyRun[], title: string, subtitle: string): string {
  const height = HEADER + runs.length * (PANEL + TOP + BOTTOM + GAP);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="${LEFT}" y="18" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${LEFT}" y="34" fill="#555">${escapeXml(subtitle)}</text>`,
    legend(LEFT, 52),
  ];
  runs.forEach((run, i) => parts.push(panel(run, HEADER + i * (PANEL + TOP + BOTTOM + GAP))));
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function legend(x: number, y: number): string {
  const items: [string, string][] = [
    ['<rect width="10" height="10" y="-9" fill="#ccc"/>', 'GET / and POST answered (min–max)'],
    ['<line x2="12" y1="-4" y2="-4" stroke="#1565c0" stroke-width="1.5"/>', 'fast GET p50'],
    ['<line x2="12" y1="-4" y2="-4" stroke="#ef6c00" stroke-width="1.5"/>', 'fast GET p99'],
    ['<circle cx="5" cy="-4" r="3" fill="#d50000"/>', 'failed request'],
    ['<rect width="10" height="10" y="-9" fill="#fff3c4" stroke="#e0c060"/>', 'switch window'],
    ['<line x1="5" x2="5" y1="-10" y2="1" stroke="#2e7d32" stroke-width="1.5"/>', 'switch (nginx reload)'],
    ['<line x1="5" x2="5" y1="-10" y2="1" stroke="#6a1b9a" stroke-width="1.5"/>', 'SIGTERM'],
    ['<line x1="5" x2="5" y1="-10" y2="1" stroke="#222" stroke-dasharray="3,2"/>', 'old process exited'],
  ];
  let offset = x;
  return items
    .map(([icon, label]) => {
      const g = `<g transform="translate(${offset},${y})">${icon}<text x="16">${escapeXml(label)}</text></g>`;
      offset += 30 + label.length * 6.2;
      return g;
    })
    .join('');
}

function panel(run: StrategyRun, top: number): string {
  const y0 = top + TOP;
  const plotWidth = WIDTH - LEFT - RIGHT;
  const duration = Math.max(1, run.loadEnd - run.loadStart);
  const x = (at: number) => LEFT + ((at - run.loadStart) / duration) * plotWidth;
  const y = (latency: number) => {
    const clamped = Math.min(Y_MAX, Math.max(Y_MIN, latency));
    return y0 + PANEL - ((Math.log10(clamped) - Math.log10(Y_MIN)) / (Math.log10(Y_MAX) - Math.log10(Y_MIN))) * PANEL;
  };
  const failed = run.records.filter((record) => record.error !== null).length;
  const out: string[] = [
    `<text x="${LEFT}" y="${top + 16}" font-size="12.5" font-weight="bold">${escapeXml(run.name)}</text>`,
    `<text x="${LEFT + 14 + run.name.length * 9}" y="${top + 16}" fill="#555">${run.records.length} requests, ${failed} failed, ${run.windows.length} cycles</text>`,
    `<rect x="${LEFT}" y="${y0}" width="${plotWidth}" height="${PANEL}" fill="none" stroke="#999"/>`,
  ];
  // Switch windows and their markers, under the data.
  for (const window of run.windows) {
    out.push(`<rect x="${fixed(x(window.start))}" y="${y0}" width="${fixed(Math.max(1, x(window.end) - x(window.start)))}" height="${PANEL}" fill="${window.ok ? '#fff3c4' : '#ffd6d6'}"/>`);
    out.push(`<text x="${fixed(x(window.start) + 2)}" y="${y0 + 10}" font-size="9" fill="#8a6d00">${escapeXml(`${window.command[0].toUpperCase()}${window.cycle}`)}</text>`);
    for (const mark of window.marks) {
      const style = MARK_STYLE[mark.name];
      if (style) out.push(`<line x1="${fixed(x(mark.at))}" x2="${fixed(x(mark.at))}" y1="${y0}" y2="${y0 + PANEL}" ${style}/>`);
    }
  }
  // Axes: log latency grid, time ticks.
  for (let latency = 1; latency <= Y_MAX; latency *= 10) {
    out.push(`<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${fixed(y(latency))}" y2="${fixed(y(latency))}" stroke="#eee"/>`);
    out.push(`<text x="${LEFT - 4}" y="${fixed(y(latency) + 4)}" text-anchor="end" fill="#555">${latency >= 1000 ? `${latency / 1000} s` : `${latency} ms`}</text>`);
  }
  const step = niceStep(duration / 1000 / 12);
  for (let t = 0; t <= duration / 1000; t += step) {
    const tx = x(run.loadStart + t * 1000);
    out.push(`<line x1="${fixed(tx)}" x2="${fixed(tx)}" y1="${y0 + PANEL}" y2="${y0 + PANEL + 4}" stroke="#999"/><text x="${fixed(tx)}" y="${y0 + PANEL + 16}" text-anchor="middle" fill="#555">${t}s</text>`);
  }
  out.push(...series(run.records, y, plotWidth, run.loadStart, duration));
  // Failed requests on top, one dot per 2-px cell (the failures of a closed loop come by the thousand).
  const seen = new Set<string>();
  const dots: [number, number][] = [];
  for (const record of run.records) {
    if (record.error === null) continue;
    const px = Math.round(x(record.startedAt) / 2) * 2;
    const py = Math.round(y(record.latencyMs) / 2) * 2;
    if (seen.has(`${px},${py}`)) continue;
    seen.add(`${px},${py}`);
    dots.push([px, py]);
  }
  // A rare failure must not hide among the grey columns: few dots are drawn larger.
  const r = dots.length < 50 ? 4 : 2;
  const circles = dots.map(([px, py]) => `M${px - r} ${py}a${r} ${r} 0 1 0 ${2 * r} 0a${r} ${r} 0 1 0 ${-2 * r} 0`);
  if (circles.length) out.push(`<path d="${circles.join('')}" fill="#d50000" fill-opacity="0.8"/>`);
  return `<g>\n${out.join('\n')}\n</g>`;
}

/** The grey range and the two percentile lines, per BIN_PX-wide column. */
function series(records: RequestRecord[], y: (latency: number) => number, plotWidth: number, since: number, duration: number): string[] {
  const bins = Math.ceil(plotWidth / BIN_PX);
  const all: { min: number; max: number }[] = Array.from({ length: bins }, () => ({ min: Infinity, max: -Infinity }));
  const fast: number[][] = Array.from({ length: bins }, () => []);
  for (const record of records) {
    if (record.error !== null || record.kind === 'slow') continue;
    const bin = Math.min(bins - 1, Math.max(0, Math.floor(((record.startedAt - since) / duration) * bins)));
    all[bin].min = Math.min(all[bin].min, record.latencyMs);
    all[bin].max = Math.max(all[bin].max, record.latencyMs);
    if (record.kind === 'fast') fast[bin].push(record.latencyMs);
  }
  const out: string[] = [];
  const range: string[] = [];
  all.forEach(({ min, max }, bin) => {
    if (min === Infinity) return;
    const bx = fixed(LEFT + bin * BIN_PX + BIN_PX / 2);
    range.push(`M${bx} ${fixed(y(min))}V${fixed(Math.min(y(max), y(min) - 1))}`);
  });
  out.push(`<path d="${range.join('')}" stroke="#ccc" stroke-width="${BIN_PX}" fill="none"/>`);
  for (const [p, color] of [
    [50, '#1565c0'],
    [99, '#ef6c00'],
  ] as const) {
    // A column without a fast answer breaks the line rather than bridging the gap.
    let d = '';
    let drawing = false;
    fast.forEach((latencies, bin) => {
      if (latencies.length === 0) {
        drawing = false;
        return;
      }
      latencies.sort((a, b) => a - b);
      d += `${drawing ? 'L' : 'M'}${fixed(LEFT + bin * BIN_PX + BIN_PX / 2)} ${fixed(y(percentile(latencies, p)!))}`;
      drawing = true;
    });
    if (d) out.push(`<path d="${d}" stroke="${color}" stroke-width="1.2" fill="none"/>`);
  }
  return out;
}

function niceStep(raw: number): number {
  for (const candidate of [1, 2, 5, 10, 15, 20, 30, 60, 120, 300]) if (candidate >= raw) return candidate;
  return 600;
}

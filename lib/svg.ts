import { encodePng } from './png.js';

/**
 * Minimal SVG charts (overlaid histograms with optional density curves). Hand-written rather than vega-lite:
 * no dependency tree, byte-for-byte deterministic output for a given input, and this chart kind is all the
 * reports need so far.
 */

export interface Series {
  label: string;
  values: number[];
  color: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : Number(v.toPrecision(3)).toString());

function frame(title: string, xLabel: string, yLabel: string, x0: number, x1: number, y0: number, y1: number, body: string, legend: { label: string; color: string }[], xTick: (v: number) => string = fmt, xTicks?: number[]): string {
  const W = 640, H = 400, L = 60, R = 20, T = 40, B = 50;
  const ticks = (a: number, b: number, n: number) => Array.from({ length: n + 1 }, (_, i) => a + ((b - a) * i) / n);
  const xs = (xTicks ?? ticks(x0, x1, 5)).map((v) => {
    const px = L + ((v - x0) / (x1 - x0 || 1)) * (W - L - R);
    return `<line x1="${px}" y1="${H - B}" x2="${px}" y2="${H - B + 5}" stroke="#333"/><text x="${px}" y="${H - B + 18}" font-size="11" text-anchor="middle">${xTick(v)}</text>`;
  });
  const ys = ticks(y0, y1, 4).map((v) => {
    const py = H - B - ((v - y0) / (y1 - y0 || 1)) * (H - T - B);
    return `<line x1="${L - 5}" y1="${py}" x2="${L}" y2="${py}" stroke="#333"/><text x="${L - 8}" y="${py + 4}" font-size="11" text-anchor="end">${fmt(v)}</text>`;
  });
  const leg = legend.map((s, i) => `<rect x="${W - R - 190}" y="${T + i * 18}" width="12" height="12" fill="${s.color}" fill-opacity="0.6"/><text x="${W - R - 172}" y="${T + i * 18 + 10}" font-size="12">${esc(s.label)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="22" font-size="14" text-anchor="middle">${esc(title)}</text>
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>
${xs.join('\n')}
${ys.join('\n')}
<text x="${W / 2}" y="${H - 12}" font-size="12" text-anchor="middle">${esc(xLabel)}</text>
<text x="16" y="${H / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">${esc(yLabel)}</text>
${body}
${leg.join('\n')}
</svg>
`;
}

/** Overlaid histograms (as densities) of several series on common bins, with optional density curves. */
export function histogramSvg(title: string, xLabel: string, series: Series[], bins = 40, curves: { label: string; color: string; f: (x: number) => number }[] = []): string {
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const lo = Math.min(...all), hi = Math.max(...all);
  const w = (hi - lo) / bins || 1;
  const dens = series.map((s) => {
    const c = new Array(bins).fill(0);
    for (const v of s.values) if (Number.isFinite(v)) c[Math.min(bins - 1, Math.floor((v - lo) / w))]++;
    return c.map((k) => k / (s.values.length * w));
  });
  const grid = Array.from({ length: 200 }, (_, i) => lo + ((hi - lo) * i) / 199);
  const curveVals = curves.map((c) => grid.map((x) => c.f(x)));
  const yMax = Math.max(...dens.flat(), ...curveVals.flat().filter(Number.isFinite)) * 1.05;
  const W = 640, H = 400, L = 60, R = 20, T = 40, B = 50;
  const px = (x: number) => L + ((x - lo) / (hi - lo || 1)) * (W - L - R);
  const py = (y: number) => H - B - (y / (yMax || 1)) * (H - T - B);
  const bars = dens.flatMap((d, si) =>
    d.map((v, b) => `<rect x="${px(lo + b * w)}" y="${py(v)}" width="${Math.max(px(lo + (b + 1) * w) - px(lo + b * w) - 0.5, 0.5)}" height="${H - B - py(v)}" fill="${series[si].color}" fill-opacity="0.45"/>`),
  );
  const lines = curveVals.map((vals, ci) => `<polyline fill="none" stroke="${curves[ci].color}" stroke-width="2" points="${vals.map((v, i) => `${px(grid[i]).toFixed(1)},${py(Math.min(v, yMax)).toFixed(1)}`).join(' ')}"/>`);
  return frame(title, xLabel, 'density', lo, hi, 0, yMax, [...bars, ...lines].join('\n'), [...series, ...curves]);
}

export interface LineSeries {
  label: string;
  x: number[];
  y: number[];
  color: string;
}

/**
 * Line plot of several series on shared axes; `logX` plots log10(1 + x) so that step 0 stays on the axis
 * (training curves are recorded at log-spaced steps).
 */
export function lineplotSvg(title: string, xLabel: string, yLabel: string, series: LineSeries[], opts: { logX?: boolean } = {}): string {
  const tx = (x: number) => (opts.logX ? Math.log10(1 + x) : x);
  const xs = series.flatMap((s) => s.x.map(tx)), ys = series.flatMap((s) => s.y).filter(Number.isFinite);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  const pad = (y1 - y0) * 0.05 || Math.abs(y1) * 0.05 || 1;
  y0 -= pad;
  y1 += pad;
  const W = 640, H = 400, L = 60, R = 20, T = 40, B = 50;
  const px = (x: number) => L + ((tx(x) - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (y: number) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const body = series.map((s) => {
    const pts = s.x.map((x, i) => [x, s.y[i]]).filter(([, y]) => Number.isFinite(y));
    // Long series (loss curves) are thinned to at most one point per horizontal pixel.
    const kept: number[][] = [];
    let lastPx = -Infinity;
    for (const p of pts) {
      const X = px(p[0]);
      if (X - lastPx >= 1 || p === pts[pts.length - 1]) {
        kept.push(p);
        lastPx = X;
      }
    }
    return `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${kept.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>` +
      (pts.length <= 40 ? pts.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`).join('') : '');
  });
  // On a log axis the ticks sit at 0 and the powers of ten (positions log10(1 + x)).
  const logTicks = opts.logX ? [0, ...Array.from({ length: Math.floor(x1) + 1 }, (_, k) => Math.log10(1 + 10 ** k)).filter((v) => v <= x1 + 1e-9)] : undefined;
  return frame(title, xLabel, yLabel, x0, x1, y0, y1, body.join('\n'), series, opts.logX ? (v) => fmt(Math.round(10 ** v - 1)) : fmt, logTicks);
}

/** Viridis-like colour of t ∈ [0, 1] (linear interpolation between five anchors of matplotlib's viridis). */
function viridisRgb(t: number): number[] {
  const a = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const u = Math.min(Math.max(t, 0), 1) * (a.length - 1);
  const i = Math.min(Math.floor(u), a.length - 2), f = u - i;
  return a[i].map((v, k) => Math.round(v + f * (a[i + 1][k] - v)));
}

const viridis = (t: number): string => `rgb(${viridisRgb(t).join(',')})`;

/**
 * Heatmap of a [rows, cols] matrix (row-major) as SVG: the cells are one embedded PNG (a few KB instead of one
 * SVG rectangle per cell), with a colour bar labelled with the minimum and maximum and optional grid lines
 * every `block` cells (the K×K output blocks of a full multi-output kernel).
 */
export function heatmapSvg(title: string, M: ArrayLike<number>, rows: number, cols: number, opts: { block?: number } = {}): string {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < rows * cols; i++) {
    lo = Math.min(lo, M[i]);
    hi = Math.max(hi, M[i]);
  }
  const rgb = new Uint8Array(rows * cols * 3);
  for (let i = 0; i < rows * cols; i++) rgb.set(viridisRgb((M[i] - lo) / (hi - lo || 1)), 3 * i);
  const png = encodePng(rgb, cols, rows).toString('base64');
  const size = 400, cell = size / Math.max(rows, cols), L = 20, T = 40;
  const W = L + cols * cell + 110, H = T + rows * cell + 20;
  const grid: string[] = [];
  if (opts.block) {
    for (let b = opts.block; b < Math.max(rows, cols); b += opts.block) {
      if (b < cols) grid.push(`<line x1="${L + b * cell}" y1="${T}" x2="${L + b * cell}" y2="${T + rows * cell}" stroke="white" stroke-width="0.5"/>`);
      if (b < rows) grid.push(`<line x1="${L}" y1="${T + b * cell}" x2="${L + cols * cell}" y2="${T + b * cell}" stroke="white" stroke-width="0.5"/>`);
    }
  }
  const bx = L + cols * cell + 20, bh = rows * cell;
  const bar = Array.from({ length: 50 }, (_, k) => `<rect x="${bx}" y="${(T + bh - ((k + 1) * bh) / 50).toFixed(2)}" width="16" height="${(bh / 50 + 0.5).toFixed(2)}" fill="${viridis(k / 49)}"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="22" font-size="14" text-anchor="middle">${esc(title)}</text>
<image x="${L}" y="${T}" width="${cols * cell}" height="${rows * cell}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,${png}"/>
${grid.join('')}
${bar.join('')}
<text x="${bx + 20}" y="${T + 10}" font-size="11">${fmt(hi)}</text>
<text x="${bx + 20}" y="${T + bh}" font-size="11">${fmt(lo)}</text>
</svg>
`;
}

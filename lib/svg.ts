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

function frame(title: string, xLabel: string, yLabel: string, x0: number, x1: number, y1: number, body: string, legend: { label: string; color: string }[]): string {
  const W = 640, H = 400, L = 60, R = 20, T = 40, B = 50;
  const ticks = (a: number, b: number, n: number) => Array.from({ length: n + 1 }, (_, i) => a + ((b - a) * i) / n);
  const xs = ticks(x0, x1, 5).map((v) => {
    const px = L + ((v - x0) / (x1 - x0 || 1)) * (W - L - R);
    return `<line x1="${px}" y1="${H - B}" x2="${px}" y2="${H - B + 5}" stroke="#333"/><text x="${px}" y="${H - B + 18}" font-size="11" text-anchor="middle">${fmt(v)}</text>`;
  });
  const ys = ticks(0, y1, 4).map((v) => {
    const py = H - B - (v / (y1 || 1)) * (H - T - B);
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
  return frame(title, xLabel, 'density', lo, hi, yMax, [...bars, ...lines].join('\n'), [...series, ...curves]);
}

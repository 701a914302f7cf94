/*
 * Canvas drawing for the explorer: kernel heatmaps and small line plots (log axes, error bars). Plain 2-D canvas
 * calls; the page needs nothing a charting library would add beyond these.
 */

/** Viridis-like ramp (5 anchors, linear between them) for t in [0, 1]. */
function ramp(t: number): [number, number, number] {
  const a: [number, number, number][] = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.min(Math.max(t, 0), 1) * (a.length - 1);
  const i = Math.min(Math.floor(x), a.length - 2), f = x - i;
  return [0, 1, 2].map((c) => a[i][c] + f * (a[i + 1][c] - a[i][c])) as [number, number, number];
}

/** Blue–white–red for t in [−1, 1] (differences). */
function diverging(t: number): [number, number, number] {
  const u = Math.min(Math.max(t, -1), 1);
  return u < 0 ? [255 * (1 + u), 255 * (1 + u), 255] : [255, 255 * (1 - u), 255 * (1 - u)];
}

/**
 * Draw M [rows, rows] on the canvas, one pixel per entry scaled up to the canvas: sequential colours over
 * [min, max], or diverging colours over [−max|M|, max|M|] for a difference. Returns the range drawn.
 */
export function drawHeatmap(canvas: HTMLCanvasElement, M: ArrayLike<number>, rows: number, opts: { diverging?: boolean } = {}): { lo: number; hi: number } {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < M.length; i++) {
    lo = Math.min(lo, M[i]);
    hi = Math.max(hi, M[i]);
  }
  const amax = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  const img = new ImageData(rows, rows);
  for (let i = 0; i < rows * rows; i++) {
    const c = opts.diverging ? diverging(M[i] / amax) : ramp(hi > lo ? (M[i] - lo) / (hi - lo) : 0.5);
    img.data.set([c[0], c[1], c[2], 255], 4 * i);
  }
  const off = document.createElement('canvas');
  off.width = rows;
  off.height = rows;
  off.getContext('2d')!.putImageData(img, 0, 0);
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
  return opts.diverging ? { lo: -amax, hi: amax } : { lo, hi };
}

export interface Series {
  label: string;
  color: string;
  x: number[];
  y: number[];
  /** Error bars (± this). */
  err?: number[];
  /** Draw points only (no line). */
  points?: boolean;
}

const niceTicks = (lo: number, hi: number, log: boolean): number[] => {
  if (log) {
    const within = (ms: number[]) => {
      const out: number[] = [];
      for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const m of ms) out.push(m * 10 ** e);
      return out.filter((v) => v >= lo / 1.0001 && v <= hi * 1.0001);
    };
    const fine = within([1, 2, 5]);
    return fine.length > 8 ? within([1]) : fine;
  }
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 4 || 1));
  const m = (hi - lo) / step > 20 ? 5 * step : (hi - lo) / step > 8 ? 2 * step : step;
  const out: number[] = [];
  for (let v = Math.ceil(lo / m) * m; v <= hi; v += m) out.push(v);
  return out;
};

/** A tick label: integers as they are, others to 3 significant digits, tiny ones in exponent form. */
const tickLabel = (v: number): string =>
  Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 ? v.toExponential(0) : String(Number(v.toPrecision(3)));

/** A line plot of the series on the canvas, with optional log axes, a title and a legend. */
export function drawLines(canvas: HTMLCanvasElement, title: string, series: Series[], opts: { logX?: boolean; logY?: boolean; xLabel?: string } = {}): void {
  const ctx = canvas.getContext('2d')!;
  const W = canvas.width, H = canvas.height, L = 52, R = 10, T = 22, B = 32;
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  ctx.font = '12px sans-serif';
  ctx.fillStyle = '#222';
  ctx.fillText(title, L, 14);
  const fx = (v: number) => (opts.logX ? Math.log10(v) : v), fy = (v: number) => (opts.logY ? Math.log10(v) : v);
  const xs: number[] = [], ys: number[] = [];
  for (const s of series) {
    s.x.forEach((v, i) => {
      if (!Number.isFinite(s.y[i]) || (opts.logY && s.y[i] <= 0)) return;
      xs.push(v);
      ys.push(s.y[i] - (s.err?.[i] ?? 0) > 0 || !opts.logY ? s.y[i] - (s.err?.[i] ?? 0) : s.y[i], s.y[i] + (s.err?.[i] ?? 0));
    });
  }
  if (!xs.length) return;
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (x0 === x1) [x0, x1] = opts.logX ? [x0 / 2, x1 * 2] : [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = opts.logY ? [y0 / 2, y1 * 2] : [y0 - 1, y1 + 1];
  const px = (v: number) => L + ((fx(v) - fx(x0)) / (fx(x1) - fx(x0))) * (W - L - R);
  const py = (v: number) => H - B - ((fy(v) - fy(y0)) / (fy(y1) - fy(y0))) * (H - T - B);
  ctx.strokeStyle = '#999';
  ctx.strokeRect(L, T, W - L - R, H - T - B);
  ctx.fillStyle = '#444';
  for (const v of niceTicks(x0, x1, !!opts.logX)) {
    const w = ctx.measureText(tickLabel(v)).width;
    ctx.fillText(tickLabel(v), Math.min(px(v) - w / 2, W - w - 1), H - B + 14);
  }
  for (const v of niceTicks(y0, y1, !!opts.logY)) ctx.fillText(tickLabel(v), 2, py(v) + 4);
  if (opts.xLabel) ctx.fillText(opts.xLabel, (L + W - R - ctx.measureText(opts.xLabel).width) / 2, H - 2);
  series.forEach((s, si) => {
    ctx.strokeStyle = ctx.fillStyle = s.color;
    ctx.beginPath();
    let started = false;
    s.x.forEach((v, i) => {
      if (!Number.isFinite(s.y[i]) || (opts.logY && s.y[i] <= 0)) return;
      if (!s.points) (started ? ctx.lineTo(px(v), py(s.y[i])) : ctx.moveTo(px(v), py(s.y[i])));
      started = true;
    });
    ctx.stroke();
    s.x.forEach((v, i) => {
      if (!Number.isFinite(s.y[i]) || (opts.logY && s.y[i] <= 0)) return;
      if (s.points) ctx.fillRect(px(v) - 3, py(s.y[i]) - 3, 6, 6);
      const e = s.err?.[i];
      if (e) {
        ctx.beginPath();
        ctx.moveTo(px(v), py(opts.logY ? Math.max(s.y[i] - e, y0) : s.y[i] - e));
        ctx.lineTo(px(v), py(s.y[i] + e));
        ctx.stroke();
      }
    });
    ctx.fillText(s.label, W - R - 170, T + 14 + 14 * si);
  });
}

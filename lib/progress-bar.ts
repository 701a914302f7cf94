import cliProgress from 'cli-progress';
import type { Progress, ProgressFactory } from './progress.js';

// Terminal progress (Node's stderr): an edge module, apart from lib/progress.ts, which the engine and a browser
// bundle use.

/** Progress bars now drawn on the terminal: an error must end them first, so that it stands on its own line. */
const activeBars = new Set<{ stop(): void }>();

/**
 * End any progress bar still drawn on stderr and clear its line, so that what comes next (an error) is one clean
 * line. Plain-line progress (not a TTY) needs nothing: its lines are complete.
 */
export function clearProgress(): void {
  for (const b of activeBars) b.stop();
  if (activeBars.size && process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
  activeBars.clear();
}

/**
 * Progress on stderr: on a TTY a cli-progress bar with ETA (chosen because it already handles redraw,
 * terminal width and ETA smoothing); otherwise one plain line every `everyMs` milliseconds and at the end,
 * so logs of CI or batch jobs show that work goes on without drowning in carriage returns.
 */
export function stderrProgress(everyMs = 5000): ProgressFactory {
  return (label: string, total: number): Progress => {
    if (process.stderr.isTTY) {
      const bar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} | {duration_formatted}`, stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0);
      activeBars.add(bar);
      return {
        update: (d) => bar.update(d),
        stop: () => {
          activeBars.delete(bar);
          bar.stop();
        },
      };
    }
    const t0 = Date.now();
    let last = t0;
    let current = 0;
    let printed = -1;
    const line = (d: number) => {
      printed = d;
      const el = (Date.now() - t0) / 1000;
      const eta = d > 0 ? (el * (total - d)) / d : NaN;
      process.stderr.write(`${label}: ${d}/${total} (${((100 * d) / Math.max(total, 1)).toFixed(0)}%) elapsed ${el.toFixed(1)}s` + (d < total && Number.isFinite(eta) ? ` ETA ${eta.toFixed(1)}s` : '') + '\n');
    };
    return {
      update: (d) => {
        current = d;
        const now = Date.now();
        if (now - last >= everyMs) {
          last = now;
          line(d);
        }
      },
      stop: () => {
        if (printed !== current) line(current);
      },
    };
  };
}

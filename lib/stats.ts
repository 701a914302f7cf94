/** Mean of a sample. */
export const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

/** Sample standard deviation (n − 1 in the denominator; 0 for fewer than two values). */
export const sd = (v: number[]): number => {
  if (v.length < 2) return 0;
  const m = mean(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
};

/** 'mean ± sd' of v, three decimals (the studies' table cells). */
export const meanSd = (v: number[]): string => `${mean(v).toFixed(3)} ± ${sd(v).toFixed(3)}`;

/** Least-squares slope and intercept of y on x (a log–log slope is the fitted exponent of y ∝ x^a). */
export function fitLine(x: number[], y: number[]): { slope: number; intercept: number } {
  const n = x.length, mx = mean(x), my = mean(y);
  let sxy = 0, sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

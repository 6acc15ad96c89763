/**
 * Spread over seeds or measurements: mean, sample standard deviation, and whether a mean change is
 * inside the noise (its 95 % Student's t interval contains 0). Used by `compare`'s tables and by the
 * auxiliary verdicts that the run report and `compare` give.
 */

/** Two-sided 95 % quantiles of Student's t for 1..10 degrees of freedom (then 1.96 as the limit). */
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];

export interface Spread {
  mean: number;
  std: number;
  n: number;
  values: number[];
}

export function spread(values: number[]): Spread {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n, values };
}

/**
 * Whether a mean change over paired seeds is inside the seed noise: its 95 % confidence interval
 * (Student's t over the per-seed changes) contains 0. With one seed nothing can be told apart.
 */
export function insideNoise(changes: Spread): boolean {
  if (changes.n < 2) return true;
  const t = T95[changes.n - 2] ?? 1.96;
  return Math.abs(changes.mean) <= (t * changes.std) / Math.sqrt(changes.n);
}

// The rule a fixed-sample test gives when re-checked at every poll, for comparison with the
// sequential test in the simulation only (its false-halt rate grows with the number of looks).

type Counts = { observed: number; failures: number };

/**
 * One-sided pooled two-proportion z statistic (release vs control), or one-sample vs the
 * reference rate when there is no control.
 */
export function naiveZ(release: Counts, control: Counts | null, referenceRate: number): number {
  if (release.observed === 0) return 0;
  const pr = release.failures / release.observed;
  if (!control || control.observed === 0) {
    const se = Math.sqrt((referenceRate * (1 - referenceRate)) / release.observed);
    return (pr - referenceRate) / se;
  }
  const pc = control.failures / control.observed;
  const pooled = (release.failures + control.failures) / (release.observed + control.observed);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / release.observed + 1 / control.observed));
  return se > 0 ? (pr - pc) / se : 0;
}

const quantiles = new Map<number, number>();
/** normalQuantile, memoised (the simulation asks for the same few quantiles millions of times). */
export function cachedQuantile(p: number): number {
  let q = quantiles.get(p);
  if (q === undefined) quantiles.set(p, (q = normalQuantile(p)));
  return q;
}

/** Standard normal quantile by bisection on an erfc-based CDF (accurate to ~1e-7, ample here). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError('p must be in (0, 1)');
  let lo = -10, hi = 10;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export function normalCdf(x: number): number {
  // Numerical Recipes erfc (Chebyshev), relative error < 1.2e-7.
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r / 2 : r / 2;
}

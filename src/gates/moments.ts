/**
 * Running moments of a sample (count, mean, sum of squared deviations),
 * kept with Welford's update and merged exactly (Chan et al.): a cohort's
 * summary is the merge of its clients' summaries in any order, so replicas
 * and the simulator get the same figures from the same samples.
 */

export interface Moments {
  readonly n: number
  readonly mean: number
  /** Sum of squared deviations from the mean. */
  readonly m2: number
}

export const EMPTY: Moments = Object.freeze({ n: 0, mean: 0, m2: 0 })

/** The moments with one more sample. */
export const addSample = (m: Moments, x: number): Moments => {
  const n = m.n + 1
  const delta = x - m.mean
  const mean = m.mean + delta / n
  return { n, mean, m2: m.m2 + delta * (x - mean) }
}

/** The moments of the union of two samples. */
export const mergeMoments = (a: Moments, b: Moments): Moments => {
  if (a.n === 0) return b
  if (b.n === 0) return a
  const n = a.n + b.n
  const delta = b.mean - a.mean
  return {
    n,
    mean: a.mean + (delta * b.n) / n,
    m2: a.m2 + b.m2 + (delta * delta * a.n * b.n) / n,
  }
}

/** Unbiased sample variance; 0 below two samples. */
export const variance = (m: Moments): number => (m.n < 2 ? 0 : Math.max(0, m.m2 / (m.n - 1)))

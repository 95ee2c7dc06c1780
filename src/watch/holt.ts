/**
 * Holt's double exponential smoothing (level and trend) over a series, with
 * a robust noise estimate of its one-step residuals (their median absolute
 * deviation × 1.4826, a standard deviation for normal noise) and a slow,
 * robust baseline (the median of recent blocks' means): the non-seasonal
 * part of a metric's model (model.ts). Huber-clipped updates: an
 * observation far outside the band moves the level only to its edge.
 */

const MAD_TO_SD = 1.4826
/** Residuals between two measures of the noise (a sort of the window each time). */
const NOISE_EVERY = 10

/** Holt's level and trend over a series, with a robust noise estimate of its residuals. */
export class Holt {
  level: number | undefined
  trend = 0
  /** Each block's mean, the latest `#blocks.length` of them (a ring), for the baseline. */
  readonly #blocks: number[] = []
  #nextBlock = 0
  #blockSum = 0
  #blockSteps = 0
  #slow: number | undefined
  /** Observations seen: the trend is learned only once the level has settled. */
  #seen = 0
  readonly #residuals: number[] = []
  #next = 0
  /** The noise as last measured, and residuals added since (it is measured again every few). */
  #noise = Number.POSITIVE_INFINITY
  #stale = 0

  constructor(
    private readonly alpha: number,
    private readonly beta: number,
    private readonly window: number,
    /** Blocks the baseline is the median of, and steps in a block. */
    private readonly baselineBlocks: number,
    private readonly blockSteps: number,
  ) {}

  /**
   * The baseline (see SeriesModel's): the median of the recent blocks'
   * means, robust to a promotion or an incident shorter than half its
   * window; the running mean until a block is complete.
   */
  get slow(): number | undefined {
    return this.#slow ?? (this.#blockSteps > 0 ? this.#blockSum / this.#blockSteps : undefined)
  }

  #learnBaseline(y: number): void {
    this.#blockSum += y
    if (++this.#blockSteps < this.blockSteps) return
    const mean = this.#blockSum / this.#blockSteps
    this.#blockSum = 0
    this.#blockSteps = 0
    if (this.#blocks.length < this.baselineBlocks) this.#blocks.push(mean)
    else this.#blocks[this.#nextBlock] = mean
    this.#nextBlock = (this.#nextBlock + 1) % this.baselineBlocks
    this.#slow = median([...this.#blocks].sort((a, b) => a - b))
  }

  /** The forecast `ahead` steps after the last observation. */
  forecast(ahead = 1): number | undefined {
    return this.level === undefined ? undefined : this.level + this.trend * ahead
  }

  /** The residuals' median absolute value × 1.4826, measured again every NOISE_EVERY residuals. */
  noise(): number {
    const r = this.#residuals
    if (r.length < 2) return Number.POSITIVE_INFINITY
    if (this.#stale > 0 && (this.#stale >= NOISE_EVERY || r.length < NOISE_EVERY * 4)) {
      this.#noise = MAD_TO_SD * medianAbs(r)
      this.#stale = 0
    }
    return this.#noise
  }

  observe(y: number, clip: number): void {
    this.#seen++
    const f = this.forecast()
    this.#learnBaseline(y)
    if (f === undefined) {
      this.level = y
      return
    }
    const residual = y - f
    // The residual is kept as seen (the noise sees the spike); the update is clipped.
    if (this.#residuals.length < this.window) this.#residuals.push(residual)
    else this.#residuals[this.#next] = residual
    this.#next = (this.#next + 1) % this.window
    this.#stale++
    const n = this.noise()
    const band = Number.isFinite(n) && n > 0 ? clip * n : Number.POSITIVE_INFINITY
    const used = f + Math.max(-band, Math.min(band, residual))
    // Until the level has settled (a window of steps), faster, as a running mean.
    const a = Math.max(this.alpha, 1 / this.#seen)
    const level = a * used + (1 - a) * f
    if (this.#seen > this.window)
      this.trend = this.beta * (level - this.level!) + (1 - this.beta) * this.trend
    this.level = level
  }
}

/**
 * The median of the absolute values of `xs` (non-empty), by quickselect on a
 * copy: a window of residuals every few steps, so not a full sort.
 */
const medianAbs = (xs: readonly number[]): number => {
  const a = Float64Array.from(xs, Math.abs)
  const kth = (k: number): number => {
    let lo = 0
    let hi = a.length - 1
    while (lo < hi) {
      const pivot = a[(lo + hi) >> 1]!
      let i = lo
      let j = hi
      while (i <= j) {
        while (a[i]! < pivot) i++
        while (a[j]! > pivot) j--
        if (i <= j) {
          const t = a[i]!
          a[i] = a[j]!
          a[j] = t
          i++
          j--
        }
      }
      if (k <= j) hi = j
      else if (k >= i) lo = i
      else return a[k]!
    }
    return a[k]!
  }
  const m = a.length >> 1
  if (a.length % 2) return kth(m)
  const upper = kth(m)
  // Everything below index m is now at most the upper middle: the lower middle is their largest.
  let lower = Number.NEGATIVE_INFINITY
  for (let i = 0; i < m; i++) lower = Math.max(lower, a[i]!)
  return (lower + upper) / 2
}

/** The median of a sorted, non-empty array. */
export const median = (sorted: readonly number[]): number => {
  const m = sorted.length >> 1
  return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2
}

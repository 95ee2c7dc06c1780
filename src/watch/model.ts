/**
 * What a business metric should be now, and how noisy it is, learned online
 * from its fleet-wide series (one value per step, a second by default):
 *
 * - level and trend: Holt's double exponential smoothing;
 * - noise: the median absolute deviation of recent one-step residuals
 *   (× 1.4826, a standard deviation for normal noise), robust to the
 *   spikes it is there to judge;
 * - seasonality, with a `period`: a shape, the median of the same phase (a
 *   bucket of `bucketMs`) over the last `history` periods, each as a share
 *   of its own period's level, averaged over the `smoothBuckets` phases
 *   either side (a bucket's mean carries its own count noise, held for the
 *   whole bucket: a bias the watch would add up); the series divided by it is smoothed as
 *   above (multiplicative: a weekend day at 0.8 × a weekday's level is the
 *   same shape, and the level learns the 0.8 within minutes). Until that
 *   much history exists the model says so and falls back to the
 *   non-seasonal one: never silently.
 *
 * An observation far outside the expected band moves the model only as far
 * as the band's edge (a Huber step), so an incident is not learned as the
 * new normal while it lasts. Beside the level, a robust one (the median of
 * each minute's mean over the last 6 hours by default) gives a `baseline`:
 * what the series is when nothing special happens. A watch judges a drop against the lower of the
 * two (a rise against the higher), so the end of a promotion — the level
 * learned the spike, the series returns to its baseline — is no drop.
 * Pure and clock-free: the caller says when.
 */
import { Holt, median } from './holt.js'

export interface ModelOptions {
  /**
   * Level smoothing, (0, 1]: slow enough (a time constant of 200 steps) that
   * a drop the watch must see over tens of seconds is not learned first.
   * @default 0.005
   */
  readonly alpha?: number
  /** Trend smoothing, [0, 1]. @default 0.0005 */
  readonly beta?: number
  /** Steps the baseline is the median over (of each minute's mean). @default 6 hours of steps */
  readonly baselineSteps?: number
  /** Residuals the noise is measured over. @default 600 */
  readonly noiseWindow?: number
  /** The seasonal period, ms (absent: none). */
  readonly periodMs?: number
  /** Periods of history the seasonal median takes. @default 3 */
  readonly history?: number
  /** The phase buckets' width, ms. @default 60000 */
  readonly bucketMs?: number
  /**
   * The shape at a moment is a triangular-weighted mean of the phases this
   * many buckets either side (0: its own bucket alone). A minute's mean of
   * 100 events/s is off by 0.13 of a second's noise, the same for 60 steps
   * in a row; averaged over a few minutes (the season barely bends in
   * them), that bias falls by their square root. @default 3
   */
  readonly smoothBuckets?: number
  /** How far out (noise units) an observation still moves the model fully. @default 3 */
  readonly clip?: number
  /** One step, ms: a forecast further ahead extends the trend over the steps between. @default 1000 */
  readonly stepMs?: number
}

export interface Expectation {
  /** The value expected at `at`. */
  readonly expected: number
  /** Its noise: one standard deviation of a single step's value. */
  readonly noise: number
  /** What it is when nothing special happens: the season and the slow level. */
  readonly baseline: number
  /** Seasonal, or the level-and-trend model (and why, when a period is set). */
  readonly mode: 'seasonal' | 'level'
  /** Why the seasonal model is not in use yet (with a period set). */
  readonly learning?: string
  /** Steps seen: fewer than a few dozen and the noise is a guess. */
  readonly steps: number
}

/** The least seasonal shape a value is divided by (see SeriesModel's #scale). */
const MIN_SHAPE = 0.05
/** Why there is no seasonal shape at a moment whose period has enough history before it. */
const NO_HISTORY = 'no history at this phase (a gap in the series)'

export class SeriesModel {
  readonly #o: Required<Omit<ModelOptions, 'periodMs'>> & { periodMs?: number | undefined }
  readonly #plain: Holt
  readonly #deseasoned: Holt
  /** Per phase bucket of each period kept: sum and count of its values. */
  readonly #sums: Float64Array
  readonly #counts: Float64Array
  readonly #buckets: number
  /** The first and latest step's time. */
  #first: number | undefined
  #last: number | undefined
  #steps = 0

  constructor(o: ModelOptions = {}) {
    this.#o = {
      alpha: o.alpha ?? 0.005,
      beta: o.beta ?? 0.0005,
      baselineSteps: o.baselineSteps ?? Math.round(21_600_000 / (o.stepMs ?? 1000)),
      noiseWindow: o.noiseWindow ?? 600,
      history: o.history ?? 3,
      bucketMs: o.bucketMs ?? 60_000,
      smoothBuckets: o.smoothBuckets ?? 3,
      clip: o.clip ?? 3,
      stepMs: o.stepMs ?? 1000,
      periodMs: o.periodMs,
    }
    const { alpha, beta, noiseWindow, periodMs, bucketMs, history, baselineSteps, stepMs } = this.#o
    // Blocks of a minute's steps (at least one step), at most 1,000 of them.
    const blockSteps = Math.max(1, Math.round(60_000 / stepMs), Math.ceil(baselineSteps / 1000))
    const blocks = Math.max(1, Math.round(baselineSteps / blockSteps))
    this.#plain = new Holt(alpha, beta, noiseWindow, blocks, blockSteps)
    this.#deseasoned = new Holt(alpha, beta, noiseWindow, blocks, blockSteps)
    this.#buckets = periodMs ? Math.max(1, Math.round(periodMs / bucketMs)) : 0
    // One period more than the median takes: the current one fills while those before are read.
    this.#sums = new Float64Array(this.#buckets * (history + 1))
    this.#counts = new Float64Array(this.#buckets * (history + 1))
  }

  /** Steps seen so far. */
  get steps(): number {
    return this.#steps
  }

  /** The seasonal buckets' width, ms (0: no period). */
  get bucketMs(): number {
    return this.#buckets > 0 ? this.#o.bucketMs : 0
  }

  /**
   * The seasonal means kept, oldest first: what a new leader seeds its model
   * with (`seed`), so the season is not learned again.
   */
  seasonal(): { at: number; mean: number }[] {
    const out: { at: number; mean: number }[] = []
    if (this.#buckets === 0) return out
    const { periodMs, bucketMs } = this.#o
    for (let slot = 0; slot < this.#counts.length; slot++) {
      const period = this.#slotPeriod[slot]
      const n = this.#counts[slot]!
      if (period === undefined || n === 0) continue
      const phase = slot % this.#buckets
      out.push({ at: period * periodMs! + phase * bucketMs, mean: this.#sums[slot]! / n })
    }
    return out.sort((a, b) => a.at - b.at)
  }

  /** A seasonal bucket's mean from before (see `seasonal`); before any step is observed. */
  seed(at: number, mean: number): void {
    if (this.#buckets === 0 || !Number.isFinite(mean)) return
    const slot = this.#slot(at)
    this.#slotPeriod[slot] = this.#period(at)
    this.#sums[slot] = mean
    this.#counts[slot] = 1
    this.#first = Math.min(this.#first ?? at, at)
    this.#levels = undefined
    this.#shares = undefined
  }

  /** What the series should be at `at` (ms), before its value there is seen. */
  expect(at: number): Expectation {
    const seasonal = this.#seasonal(at)
    const steps = this.#steps
    const ahead = this.#last === undefined ? 1 : Math.max(1, (at - this.#last) / this.#o.stepMs)
    if (typeof seasonal === 'number') {
      const d = this.#scale(seasonal)
      // Before its first seasonal step: the last period's level.
      const last = this.#levelsBefore(this.#period(at)).find((l) => l !== undefined) ?? Number.NaN
      const f = this.#deseasoned.forecast(ahead) ?? last
      return {
        expected: d * f,
        noise: d * this.#deseasoned.noise(),
        baseline: d * (this.#deseasoned.slow ?? last),
        mode: 'seasonal',
        steps,
      }
    }
    const expected = this.#plain.forecast(ahead) ?? Number.NaN
    const noise = this.#plain.noise()
    return {
      expected,
      noise,
      baseline: this.#plain.slow ?? Number.NaN,
      mode: 'level',
      ...(this.#buckets > 0 && { learning: seasonal }),
      steps,
    }
  }

  /**
   * The series' value at `at` (ms); steps come in time order. With `learn`
   * false (an incident is open) the level and trend stand still: the
   * anomaly is not learned as the new normal.
   */
  observe(at: number, value: number, learn = true): void {
    if (!Number.isFinite(value) || (this.#last !== undefined && at < this.#last)) return
    const seasonal = this.#seasonal(at)
    this.#first ??= at
    this.#last = at
    this.#steps++
    if (learn) {
      this.#plain.observe(value, this.#o.clip)
      if (typeof seasonal === 'number')
        this.#deseasoned.observe(value / this.#scale(seasonal), this.#o.clip)
    }
    if (this.#buckets > 0) {
      const slot = this.#slot(at)
      // A new period's bucket starts over (its count was of `history` periods ago).
      if (this.#slotPeriod[slot] !== this.#period(at)) {
        this.#slotPeriod[slot] = this.#period(at)
        this.#sums[slot] = 0
        this.#counts[slot] = 0
      }
      this.#sums[slot] = this.#sums[slot]! + value
      this.#counts[slot] = this.#counts[slot]! + 1
    }
  }

  /**
   * What a value is divided by to take the season out: the seasonal shape,
   * but never under a twentieth of an average moment (a phase whose
   * history is near zero would make every ratio huge).
   */
  #scale(shape: number): number {
    return Math.max(shape, MIN_SHAPE)
  }

  /** Which period each slot's figures belong to. */
  readonly #slotPeriod: number[] = []

  #period(at: number): number {
    return Math.floor(at / this.#o.periodMs!)
  }

  #phase(at: number): number {
    const p = this.#o.periodMs!
    return Math.min(this.#buckets - 1, Math.floor((((at % p) + p) % p) / this.#o.bucketMs))
  }

  #slot(at: number): number {
    return this.#slotOf(this.#period(at), this.#phase(at))
  }

  #slotOf(period: number, phase: number): number {
    const ring = this.#o.history + 1
    return (((period % ring) + ring) % ring) * this.#buckets + phase
  }

  /**
   * Each past period's level, for the period they were read in: the latest
   * kept period's mean, times the median over phases of the ratio of their
   * means to its. A
   * median, not a mean: a promotion lifts a few phases of its period and not
   * its level, so the shares of its other phases stay comparable.
   */
  #levels: { now: number; levels: (number | undefined)[] } | undefined

  /** The level of each of the last `history` periods before `now` (undefined: none kept). */
  #levelsBefore(now: number): (number | undefined)[] {
    if (this.#levels?.now === now) return this.#levels.levels
    const mean = (period: number, phase: number): number | undefined => {
      const slot = this.#slotOf(period, phase)
      if (this.#slotPeriod[slot] !== period || !this.#counts[slot]) return undefined
      return this.#sums[slot]! / this.#counts[slot]!
    }
    let ref: number | undefined
    for (let k = 1; k <= this.#o.history && ref === undefined; k++) {
      for (let phase = 0; phase < this.#buckets; phase++)
        if (mean(now - k, phase) !== undefined) {
          ref = now - k
          break
        }
    }
    // The latest period's mean of its phases' means: the levels in the series' units.
    let sum = 0
    let n = 0
    for (let phase = 0; ref !== undefined && phase < this.#buckets; phase++) {
      const x = mean(ref, phase)
      if (x !== undefined) {
        sum += x
        n++
      }
    }
    const unit = n > 0 ? sum / n : 0
    const levels: (number | undefined)[] = []
    for (let k = 1; k <= this.#o.history; k++) {
      const period = now - k
      if (ref === undefined || !(unit > 0)) {
        levels.push(undefined)
        continue
      }
      const ratios: number[] = []
      for (let phase = 0; phase < this.#buckets; phase++) {
        const x = mean(period, phase)
        const r = mean(ref, phase)
        if (x !== undefined && r !== undefined && r > 0) ratios.push(x / r)
      }
      const level = ratios.length > 0 ? median(ratios.sort((a, b) => a - b)) : undefined
      levels.push(level !== undefined && level > 0 ? level * unit : undefined)
    }
    this.#levels = { now, levels }
    return levels
  }

  /**
   * The seasonal shape at `at`: the median, over the last `history` periods,
   * of the same phase's mean as a share of its period's level (1 is an
   * average moment of the period), averaged with its neighbours' by a
   * triangle `smoothBuckets` wide either side of `at` (within the period);
   * or, while fewer periods exist, why not (a string). Shares, not values:
   * a weekend day as history for a weekday has the same shape at a lower
   * level, and a promotion in one period is outvoted by the others rather
   * than mixed with a different level.
   */
  #seasonal(at: number): number | string | undefined {
    if (this.#buckets === 0) return undefined
    const { history, periodMs, bucketMs, smoothBuckets: w } = this.#o
    const have = this.#first === undefined ? 0 : (at - this.#first) / periodMs!
    if (have < history)
      return `learning seasonality: ${Math.floor(have * 10) / 10} of ${history} periods of history`
    const now = this.#period(at)
    if (w <= 0) return this.#share(now, this.#phase(at)) ?? NO_HISTORY
    // Where `at` is in bucket units, from the first bucket's middle.
    const x = (((at % periodMs!) + periodMs!) % periodMs!) / bucketMs - 0.5
    let sum = 0
    let weights = 0
    // Within the period: across its start, the last minutes of the period before are not all
    // learned yet (the watch learns a step minutes late), and a share from two periods of the
    // three, half of them a weekend's turn, put a false incident at midnight.
    const from = Math.max(0, Math.ceil(x - w))
    const to = Math.min(this.#buckets - 1, Math.floor(x + w))
    for (let phase = from; phase <= to; phase++) {
      const share = this.#share(now, phase)
      const weight = 1 - Math.abs(phase - x) / w
      if (share === undefined || weight <= 0) continue
      sum += weight * share
      weights += weight
    }
    return weights > 0 ? sum / weights : NO_HISTORY
  }

  /** Each phase's median share for the period `now` (NaN: not computed yet), reset each period. */
  #shares: { now: number; shares: Float64Array } | undefined

  /** One phase's median share over the `history` periods before `now` (undefined: no history). */
  #share(now: number, phase: number): number | undefined {
    if (this.#shares?.now !== now)
      this.#shares = { now, shares: new Float64Array(this.#buckets).fill(Number.NaN) }
    const cached = this.#shares.shares[phase]!
    if (!Number.isNaN(cached)) return cached < 0 ? undefined : cached
    const levels = this.#levelsBefore(now)
    const shares: number[] = []
    for (let k = 1; k <= this.#o.history; k++) {
      const period = now - k
      const slot = this.#slotOf(period, phase)
      const level = levels[k - 1]
      if (this.#slotPeriod[slot] !== period || !this.#counts[slot] || level === undefined) continue
      shares.push(this.#sums[slot]! / this.#counts[slot]! / level)
    }
    const share = shares.length > 0 ? median(shares.sort((a, b) => a - b)) : undefined
    // −1 for none: a share is never negative.
    this.#shares.shares[phase] = share ?? -1
    return share
  }
}

/**
 * Fleet-wide series, one per named metric: values summed per step (a
 * second by default), from points measured elsewhere (`POST /v1/metrics`:
 * each lands in its step) and from the SDK's counts (each heartbeat's count
 * spread evenly over the interval it covers). A step is closed once it is
 * `settleMs` old (heartbeats arrive up to an interval late) and, past the
 * newest step with a value, once the series has been silent `silentMs`;
 * closed steps are taken in order, each once, by the model. History is bounded: the
 * last `keepSteps` steps of each metric, at most `maxMetrics` metrics.
 * Pure: the caller says when.
 */

export interface SeriesOptions {
  /** One step, ms. @default 1000 */
  readonly stepMs?: number
  /** Steps kept per metric. @default 3600 */
  readonly keepSteps?: number
  /** A step is closed once this old, ms. @default 2000 */
  readonly settleMs?: number
  /** Metrics kept at most; a new one beyond is refused (add returns false). @default 100 */
  readonly maxMetrics?: number
  /**
   * No spread count before this (ms) is kept: a book that starts mid-stream
   * (a coordinator started, a new leader) would otherwise see only part of
   * the heartbeats' counts for the seconds before it, and judge them as
   * drops. Points are whole where they come from, and kept. @default -Infinity
   */
  readonly floorMs?: number
  /**
   * Seconds after the newest with a value are taken (as 0) only once the
   * series has been silent this long, ms: a source that posts in batches is
   * not judged on seconds it has not sent yet, one that stopped is. @default 60000
   */
  readonly silentMs?: number
}

export interface Step {
  /** The step's start, ms. */
  readonly at: number
  readonly value: number
}

interface Series {
  /** Sums per step, a ring of keepSteps indexed by step number. */
  readonly sums: Float64Array
  /** The step number each slot holds (−1: none). */
  readonly steps: Float64Array
  /** The first step not taken yet (undefined: none taken yet). */
  next: number | undefined
  /** The oldest step with a value. */
  first: number
  /** The newest step with a value. */
  newest: number
}

export class SeriesBook {
  readonly stepMs: number
  readonly keepSteps: number
  readonly settleMs: number
  readonly maxMetrics: number
  readonly silentMs: number
  readonly floorMs: number
  readonly #series = new Map<string, Series>()

  constructor(o: SeriesOptions = {}) {
    this.stepMs = o.stepMs ?? 1000
    this.keepSteps = o.keepSteps ?? 3600
    this.settleMs = o.settleMs ?? 2000
    this.maxMetrics = o.maxMetrics ?? 100
    this.silentMs = o.silentMs ?? 60_000
    this.floorMs = o.floorMs ?? Number.NEGATIVE_INFINITY
  }

  metrics(): string[] {
    return [...this.#series.keys()]
  }

  /**
   * A point: `value` added to the step `at` falls in. False if the metric is
   * new and `maxMetrics` are kept already, or the step is no longer kept.
   */
  add(metric: string, at: number, value: number): boolean {
    if (!Number.isFinite(value) || !Number.isFinite(at)) return false
    const s = this.#of(metric)
    if (!s) return false
    return this.#into(s, Math.floor(at / this.stepMs), value)
  }

  /** A count over [from, to): spread over the steps it covers, in proportion. */
  spread(metric: string, from: number, to: number, value: number): boolean {
    if (!(to > from)) return this.add(metric, to, value)
    const s = this.#of(metric)
    if (!s || !Number.isFinite(value)) return false
    const first = Math.floor(from / this.stepMs)
    const last = Math.floor((to - 1e-9) / this.stepMs)
    let kept = false
    for (let k = Math.max(first, last - this.keepSteps + 1, this.#floorStep()); k <= last; k++) {
      const lo = Math.max(from, k * this.stepMs)
      const hi = Math.min(to, (k + 1) * this.stepMs)
      kept = this.#into(s, k, (value * (hi - lo)) / (to - from)) || kept
    }
    return kept
  }

  /** The steps of `metric` closed by `now` and not taken before, oldest first (empty steps as 0). */
  take(metric: string, now: number): Step[] {
    const s = this.#series.get(metric)
    if (!s || s.first === Number.POSITIVE_INFINITY) return []
    const settled = Math.floor((now - this.settleMs) / this.stepMs) - 1
    const closed = Math.min(
      settled,
      Math.max(s.newest, Math.floor((now - this.silentMs) / this.stepMs) - 1),
    )
    const out: Step[] = []
    const from = Math.max(s.next ?? s.first, closed - this.keepSteps + 1)
    for (let k = from; k <= closed; k++) out.push({ at: k * this.stepMs, value: this.#value(s, k) })
    if (closed >= from) s.next = closed + 1
    return out
  }

  /** The kept steps of `metric` from `from` (ms) on, oldest first (for the API and a restart). */
  history(metric: string, from = Number.NEGATIVE_INFINITY): Step[] {
    const s = this.#series.get(metric)
    if (!s) return []
    const out: Step[] = []
    for (let i = 0; i < this.keepSteps; i++) {
      const k = s.steps[i]!
      if (k >= 0 && k * this.stepMs >= from) out.push({ at: k * this.stepMs, value: s.sums[i]! })
    }
    return out.sort((a, b) => a.at - b.at)
  }

  /** The first whole step at or after floorMs. */
  #floorStep(): number {
    return Number.isFinite(this.floorMs)
      ? Math.ceil(this.floorMs / this.stepMs)
      : Number.NEGATIVE_INFINITY
  }

  #of(metric: string): Series | undefined {
    let s = this.#series.get(metric)
    if (s) return s
    if (this.#series.size >= this.maxMetrics) return undefined
    s = {
      sums: new Float64Array(this.keepSteps),
      steps: new Float64Array(this.keepSteps).fill(-1),
      next: undefined,
      first: Number.POSITIVE_INFINITY,
      newest: Number.NEGATIVE_INFINITY,
    }
    this.#series.set(metric, s)
    return s
  }

  /** Add to step k; false if k is older than the ring keeps, or already taken. */
  #into(s: Series, k: number, value: number): boolean {
    if (s.next !== undefined && k < s.next) return false
    if (k <= s.newest - this.keepSteps) return false
    s.newest = Math.max(s.newest, k)
    const i = ((k % this.keepSteps) + this.keepSteps) % this.keepSteps
    if (s.steps[i] !== k) {
      s.steps[i] = k
      s.sums[i] = 0
    }
    s.sums[i] = s.sums[i]! + value
    s.first = Math.min(s.first, k)
    return true
  }

  #value(s: Series, k: number): number {
    const i = ((k % this.keepSteps) + this.keepSteps) % this.keepSteps
    return s.steps[i] === k ? s.sums[i]! : 0
  }
}

/**
 * The adaptive fleet rate for rewarm, driven by the origin figures the
 * fleet's heartbeats carry (so it sees the origin a second or two late):
 * slow start, then growth while the origin shows no queue and its error
 * rate stays within the threshold of its own baseline; a multiplicative
 * back-off otherwise; never above the configured budget (the ceiling) nor
 * below a floor.
 *
 * - An origin may always fail a little (a few bad keys, a flaky replica):
 *   its baseline error rate is learned as its baseline latency is, the
 *   lowest over the baseline window, of blocks of at least 2,000 calls
 *   without a queue. An interval is failing when its errors are above that
 *   baseline by more than `errorThreshold`, by 3 standard errors (a
 *   binomial count: noise alone rarely reaches it), not when it has errors.
 *
 * - A queue is seen before the target is crossed: the median latency risen
 *   above its lowest by `backoffAt` of the headroom between the lowest p99
 *   (the origin's own spread) and the target, or p99 over the target. The
 *   median moves with a queue and hardly with noise.
 * - A back-off starts from what the origin got through (calls/s in the
 *   heartbeats), if less than the rate: overshoot is undone in one step,
 *   whatever its size. Then no other back-off for `holdMs` (the figures
 *   still describe the rate before it), nor while the queue drains.
 * - Growth after a back-off is TCP CUBIC's: back to a plateau, the origin's
 *   throughput when it queued (its capacity, as lately seen: intervals it
 *   was saturated through, queueing then and before, not draining), slowing
 *   as it nears it, then probing beyond, faster the longer nothing goes
 *   wrong; never less than `increase` per interval.
 * - In slow start, a queue while the fleet asks for less than the rate (a
 *   few clients' bursts, the first waves) is cut, but slow start goes on:
 *   the rate was not what queued the origin.
 */
import { parseOptions } from '../validate.js'
import { type AimdInput, type AimdOptions, aimdSchema, type OriginHealth } from './aimd-options.js'

export { type AimdInput, type AimdOptions, aimdSchema, type OriginHealth }

/** A block of calls without a queue, and the last step it took in: one error-rate sample. */
interface ErrorBlock {
  readonly step: number
  readonly calls: number
  readonly errors: number
}

/** Calls an error-rate block pools (a binomial share of 2,000 is within ±0.6 % at 2 %). */
const ERROR_BLOCK_CALLS = 2000
/** Standard errors above baseline + threshold that make an interval failing. */
const ERROR_Z = 3

/** One interval's latencies the baselines learned from, and which update it was. */
interface Baseline {
  readonly step: number
  readonly p99: number | undefined
  readonly p50: number | undefined
}

export class AimdRate {
  readonly options: AimdOptions
  #rate: number
  #ceiling: number
  #starting = true
  #step = 0
  /** Intervals within the baseline window, oldest first. */
  readonly #baselines: Baseline[] = []
  /** The last back-off: the cubic's plateau, the rate it cut to, and at which step. */
  #cut: { plateau: number; from: number; step: number } | undefined
  /** Calls/s the origin got through in queueing intervals within the baseline window. */
  readonly #throughputs: { step: number; delivered: number }[] = []
  #lastP50: number | undefined
  /** Whether the last interval with figures was queueing. */
  #lastSlow = false
  /** Closed error blocks within the baseline window, oldest first, and the one filling. */
  readonly #errorBlocks: ErrorBlock[] = []
  #filling = { calls: 0, errors: 0 }

  constructor(ceiling: number, opts: AimdInput = {}) {
    this.options = parseOptions(aimdSchema, opts)
    this.#ceiling = ceiling
    this.#rate = ceiling * this.options.start
  }

  get rate(): number {
    return this.#rate
  }

  get ceiling(): number {
    return this.#ceiling
  }

  /** The configured budget changed: the rate never goes above it. */
  set ceiling(c: number) {
    this.#ceiling = c
    this.#rate = Math.min(this.#rate, c)
  }

  /** One control step from what the origin did over the last interval; returns the new rate. */
  update(h: OriginHealth): number {
    const o = this.options
    // Every call is one control interval, with figures or without: the baseline window is
    // time (an origin idle for an hour has no baseline from before it), not intervals with calls.
    const step = ++this.#step
    this.#forget(step)
    if (h.p99 === undefined && h.errorRate === undefined) return this.#rate
    const failing = this.#failing(h)
    this.#learn(h, failing, step)
    const headroom = Math.max(0, o.targetLatencyMs - lowest(this.#baselines, 'p99'))
    const queueing =
      h.p50 !== undefined && h.p50 - lowest(this.#baselines, 'p50') > o.backoffAt * headroom
    const slow = queueing || (h.p99 !== undefined && h.p99 > o.targetLatencyMs)
    // Failing intervals are not learned: an origin that fails more under load is not taken for one that always fails.
    if (!slow && !failing) this.#learnErrors(h, step)
    const floor = this.#ceiling * o.floor
    // What the origin got through this interval, calls/s (heartbeats cover the fleet's calls).
    const delivered =
      h.throughput ??
      (h.samples === undefined ? Number.POSITIVE_INFINITY : (h.samples * 1000) / o.intervalMs)
    // Demand-limited in slow start: the fleet asked for less than the rate (few clients yet).
    const demandLimited = this.#starting && (h.used ?? 1) < 0.8
    const sinceCut = this.#cut ? (step - this.#cut.step) * o.intervalMs : Number.POSITIVE_INFINITY
    // Right after a back-off the figures still describe the rate before it; and a queue that
    // is draining (its median falling) needs no second cut.
    const draining =
      sinceCut < 3 * o.holdMs &&
      h.p50 !== undefined &&
      this.#lastP50 !== undefined &&
      h.p50 < DRAINING * this.#lastP50
    const holding = sinceCut < o.holdMs || draining
    // What got through is the origin's capacity only while it was saturated the whole
    // interval: queueing then and the interval before, the queue not draining. The interval
    // a queue began in is part before it (and its figures lag), and a fleet asking for less
    // than the rate in slow start queued it with bursts of its own, not the rate.
    if (slow && this.#lastSlow && !draining && !demandLimited && Number.isFinite(delivered))
      this.#throughputs.push({ step, delivered })
    this.#lastSlow = slow
    if (h.p50 !== undefined) this.#lastP50 = h.p50
    if ((slow || failing) && !holding) {
      // On a queue, back off from what the origin got through, if less than the rate: the
      // rate is above the origin's throughput, by however much it overshot (errors say
      // nothing of throughput: from the rate). Leaving slow start, never below the rate
      // before the last doubling (that one was fine).
      const through = Math.min(this.#rate, delivered)
      const from = this.#starting
        ? Math.max(this.#rate / o.slowStart, slow ? through : 0)
        : slow
          ? through
          : this.#rate
      // Demand-limited in slow start, the queue was not the rate's doing: cut (the origin
      // queues all the same), but go on doubling while the fleet asks for the rate.
      if (!demandLimited) this.#starting = false
      const rate = Math.max(floor, from * o.decrease)
      // Growth returns towards the most the origin got through while queueing (its capacity,
      // as far as seen lately), or the rate cut if more.
      const plateau = Math.max(from, this.#throughput())
      this.#cut = { plateau, from: rate, step }
      this.#rate = rate
    } else if (!(slow || failing) && (h.used ?? 1) >= 0.8) {
      const grown = this.#starting
        ? this.#rate * o.slowStart
        : Math.max(this.#rate + this.#ceiling * o.increase, this.#cubic(step))
      this.#rate = Math.min(this.#ceiling, grown)
    } else if (!(slow || failing) && (h.used ?? 1) < 0.8 && this.#cut) {
      // Not used (nothing to rewarm) and the origin well: the next growth starts its cubic from
      // here. Not while it is slow or failing: that would hold off a back-off for good.
      this.#cut = { plateau: this.#rate, from: this.#rate, step }
    }
    return this.#rate
  }

  /**
   * The cubic's rate at `step` (as TCP CUBIC): W + C·W·(t − K)³, t in s since the
   * back-off, W its plateau, K when it reaches W from the rate it cut to.
   */
  #cubic(step: number): number {
    const cut = this.#cut
    if (!cut) return 0
    const o = this.options
    const t = ((step - cut.step) * o.intervalMs) / 1000
    // The plateau as learned since: the queue a cut leaves drains at the origin's full
    // throughput, which the figures of the cut itself (heartbeats lag) may have underrated.
    const w = Math.max(cut.plateau, this.#throughput())
    const k = Math.cbrt(Math.max(0, w - cut.from) / (o.cubic * w))
    return w * (1 + o.cubic * (t - k) ** 3)
  }

  /**
   * What the origin gets through when it queues (its capacity): the median of the
   * queueing intervals' throughputs over the baseline window, calls/s (a maximum
   * would take a noisy interval for capacity).
   */
  #throughput(): number {
    if (this.#throughputs.length === 0) return 0
    const sorted = this.#throughputs.map((t) => t.delivered).sort((a, b) => a - b)
    return sorted[Math.floor(0.5 * (sorted.length - 1))]!
  }

  /**
   * The baselines are the lowest p99 and median over the last `baselineWindowMs`
   * (none yet: not known; a window holds ~100 intervals at most). Only intervals
   * of 100 calls or more count (a minimum of noisy values is biased low), and
   * of at least LOADED of the rate's calls: an origin nearly idle (the first
   * waves of a large fleet's rewarm) answers faster than at a healthy working
   * load, and against that the working load's median reads as a queue (on the
   * simulator at 5,000 fetches/s the rate then held at 88 % of capacity until
   * the idle intervals left the window). None whose calls were failing (a fast
   * error is no measure of the origin's speed).
   */
  #learn(h: OriginHealth, failing: boolean, step: number): void {
    const least = Math.max(100, (LOADED * this.#rate * this.options.intervalMs) / 1000)
    if (!failing && (h.samples ?? Number.POSITIVE_INFINITY) >= least)
      this.#baselines.push({ step, p99: h.p99, p50: h.p50 })
  }

  /** The origin's own error share: the lowest block's over the window (0 until one exists). */
  get baselineErrorRate(): number {
    let min = Number.POSITIVE_INFINITY
    for (const b of this.#errorBlocks) min = Math.min(min, b.errors / b.calls)
    if (Number.isFinite(min)) return min
    // No block yet: what the calls so far say, once there are enough to say anything.
    const f = this.#filling
    return f.calls >= ERROR_BLOCK_CALLS / 4 ? f.errors / f.calls : 0
  }

  /**
   * Are the origin's calls failing beyond its own baseline? Above baseline +
   * threshold by ERROR_Z standard errors of the interval's count; with no
   * count given, above it at all.
   */
  #failing(h: OriginHealth): boolean {
    const err = h.errorRate ?? 0
    const ref = Math.min(1, this.baselineErrorRate + this.options.errorThreshold)
    if (err <= ref) return false
    const n = h.samples
    if (n === undefined || n <= 0) return true
    return err - ref > ERROR_Z * Math.sqrt((ref * (1 - ref)) / n)
  }

  /** An interval without a queue adds its calls to the error block filling. */
  #learnErrors(h: OriginHealth, step: number): void {
    if (h.samples === undefined || h.samples <= 0 || h.errorRate === undefined) return
    const f = this.#filling
    f.calls += h.samples
    f.errors += h.errorRate * h.samples
    if (f.calls >= ERROR_BLOCK_CALLS) {
      this.#errorBlocks.push({ step, calls: f.calls, errors: f.errors })
      this.#filling = { calls: 0, errors: 0 }
    }
  }

  /** Drop the intervals older than the baseline window, as of control step `step`. */
  #forget(step: number): void {
    const keep = Math.max(1, Math.ceil(this.options.baselineWindowMs / this.options.intervalMs))
    for (const list of [this.#baselines, this.#throughputs, this.#errorBlocks])
      while (list.length > 0 && list[0]!.step <= step - keep) list.shift()
  }
}

/** Baselines learn only from intervals with at least this share of the rate's calls (see #learn). */
const LOADED = 0.25

/** A median below this share of the last one: a queue draining. */
const DRAINING = 0.9

const lowest = (bs: readonly Baseline[], q: 'p99' | 'p50'): number => {
  let min = Number.POSITIVE_INFINITY
  for (const b of bs) if (b[q] !== undefined) min = Math.min(min, b[q])
  return min
}

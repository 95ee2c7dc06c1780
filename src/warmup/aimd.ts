/**
 * The adaptive fleet rate for rewarm: slow start, then additive increase while the origin's
 * p99 latency stays under its target (with a margin) and its error rate under
 * the threshold; multiplicative decrease otherwise; never above the
 * configured budget (the ceiling) nor below a floor. It backs off before
 * the target, on the first sign of a queue: once the median latency has
 * risen above its lowest by `backoffAt` of the headroom between the lowest
 * p99 (the origin's own spread, no queue) and the target — or p99 is over
 * the target. The median moves with the queue and hardly with noise,
 * so a noisy origin is not mistaken for a loaded one, and the queue one step
 * of overshoot builds drains before the target is crossed.
 */
import { z } from 'zod'
import { parseOptions, positive } from '../validate.js'

const fraction = (rule: string) =>
  z.number({ error: rule }).refine((x) => Number.isFinite(x) && x > 0 && x < 1, { error: rule })

export const aimdSchema = z.strictObject({
  /** p99 origin latency not to cross, ms. @default 250 */
  targetLatencyMs: positive().default(250),
  /** Back off once p99 has used this share of the headroom from its lowest to the target. @default 0.25 */
  backoffAt: fraction('a number in (0, 1)').default(0.25),
  /** Back off once this share of origin calls fail. @default 0.01 */
  errorThreshold: fraction('a number in (0, 1)').default(0.01),
  /** Additive step per control interval, as a share of the ceiling. @default 0.01 */
  increase: fraction('a number in (0, 1)').default(0.01),
  /** Multiplicative decrease. @default 0.9 */
  decrease: fraction('a number in (0, 1)').default(0.9),
  /** Start at this share of the ceiling. @default 0.1 */
  start: fraction('a number in (0, 1)').default(0.1),
  /** Never below this share of the ceiling. @default 0.01 */
  floor: fraction('a number in (0, 1)').default(0.01),
  /** Until the first back-off, grow by this factor per interval (slow start, as in TCP). @default 2 */
  slowStart: z
    .number({ error: 'a number >= 1' })
    .refine((x) => Number.isFinite(x) && x >= 1, { error: 'a number >= 1' })
    .default(2),
  /** Control interval, ms. @default 500 */
  intervalMs: positive().default(500),
  /**
   * The origin's lowest latencies (its no-queue baseline) are the lowest seen
   * over this long, ms: an origin that became slower for good is learned
   * again within it, not taken for a queue forever. @default 60000
   */
  baselineWindowMs: positive().default(60_000),
})

export type AimdInput = z.input<typeof aimdSchema>
export type AimdOptions = z.output<typeof aimdSchema>

export interface OriginHealth {
  /** p99 latency over the interval, ms (undefined: no samples). */
  readonly p99?: number
  /** Median latency over the interval, ms. */
  readonly p50?: number
  /** Share of calls that failed over the interval. */
  readonly errorRate?: number
  /** Share of the allowed rate that was asked for (the rate grows only while it is used). @default 1 */
  readonly used?: number
  /** Calls the figures come from; the lowest-latency baselines only learn from intervals of 100 or more. */
  readonly samples?: number
}

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
  #lowestP99 = Number.POSITIVE_INFINITY
  #lowestP50 = Number.POSITIVE_INFINITY

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
    if (h.p99 === undefined && h.errorRate === undefined) return this.#rate
    const failing = (h.errorRate ?? 0) > o.errorThreshold
    this.#learn(h, failing)
    const headroom = Math.max(0, o.targetLatencyMs - this.#lowestP99)
    const queueing = h.p50 !== undefined && h.p50 - this.#lowestP50 > o.backoffAt * headroom
    const slow = queueing || (h.p99 !== undefined && h.p99 > o.targetLatencyMs)
    const floor = this.#ceiling * o.floor
    if (slow || failing) {
      // Leaving slow start: the last doubling overshot, so go back below the rate before it.
      const from = this.#starting ? this.#rate / o.slowStart : this.#rate
      this.#starting = false
      this.#rate = Math.max(floor, from * o.decrease)
    } else if ((h.used ?? 1) >= 0.8) {
      const grown = this.#starting
        ? this.#rate * o.slowStart
        : this.#rate + this.#ceiling * o.increase
      this.#rate = Math.min(this.#ceiling, grown)
    }
    return this.#rate
  }

  /**
   * The baselines: the lowest p99 and median over the last `baselineWindowMs`.
   * Only intervals of 100 calls or more count (a minimum of noisy values is
   * biased low), and none whose calls were failing (a fast error is no
   * measure of the origin's speed).
   */
  #learn(h: OriginHealth, failing: boolean): void {
    const step = ++this.#step
    const keep = Math.max(1, Math.ceil(this.options.baselineWindowMs / this.options.intervalMs))
    while (this.#baselines.length > 0 && this.#baselines[0]!.step <= step - keep)
      this.#baselines.shift()
    if (!failing && (h.samples ?? Number.POSITIVE_INFINITY) >= 100)
      this.#baselines.push({ step, p99: h.p99, p50: h.p50 })
    // The lowest of the window (none yet: not known). A window holds ~100 intervals at most.
    this.#lowestP99 = lowest(this.#baselines, 'p99')
    this.#lowestP50 = lowest(this.#baselines, 'p50')
  }
}

const lowest = (bs: readonly Baseline[], q: 'p99' | 'p50'): number => {
  let min = Number.POSITIVE_INFINITY
  for (const b of bs) if (b[q] !== undefined) min = Math.min(min, b[q])
  return min
}

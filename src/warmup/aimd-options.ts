/**
 * The adaptive rewarm rate's settings (the `rewarm` config section's AIMD
 * part) and the origin figures each control step gets: what AimdRate
 * (aimd.ts) is driven by.
 */
import { z } from 'zod'
import { between, positive } from '../validate.js'

const fraction = (rule: string) =>
  z.number({ error: rule }).refine((x) => Number.isFinite(x) && x > 0 && x < 1, { error: rule })

export const aimdSchema = z.strictObject({
  /** p99 origin latency not to cross, ms (at most an hour, as heartbeats report). @default 250 */
  targetLatencyMs: positive()
    .refine((x) => x <= 3_600_000, { error: 'a number in (0, 3600000]' })
    .default(250),
  /** Back off once the median has risen above its lowest by this share of the headroom to the target. @default 0.1 */
  backoffAt: fraction('a number in (0, 1)').default(0.1),
  /** Back off once this share of origin calls fail beyond the origin's own baseline share. @default 0.01 */
  errorThreshold: fraction('a number in (0, 1)').default(0.01),
  /** Least growth per control interval once past slow start, as a share of the ceiling. @default 0.004 */
  increase: fraction('a number in (0, 1)').default(0.004),
  /**
   * Growth after a back-off follows a cubic in the time since it (as TCP
   * CUBIC): back to the rate that was cut, slowing as it nears it, then
   * probing beyond, faster the longer nothing goes wrong. This is its
   * coefficient, as a share of its plateau per s³. @default 0.001
   */
  cubic: fraction('a number in (0, 1)').default(0.001),
  /**
   * After a back-off, no other for this long, ms: the figures that come
   * meanwhile still describe the rate before it (heartbeats and the control
   * step lag behind the origin). @default 2000
   */
  holdMs: between(0, 3_600_000).default(2000),
  /** Multiplicative decrease. @default 0.9 */
  decrease: fraction('a number in (0, 1)').default(0.9),
  /** Start at this share of the ceiling. @default 0.1 */
  start: fraction('a number in (0, 1)').default(0.1),
  /** Never below this share of the ceiling. @default 0.01 */
  floor: fraction('a number in (0, 1)').default(0.01),
  /** Until the first back-off, grow by this factor per interval (slow start, as in TCP). @default 2 */
  slowStart: between(1, 1000).default(2),
  /** Control interval, ms. @default 500 */
  intervalMs: between(10, 3_600_000).default(500),
  /**
   * The origin's lowest latencies (its no-queue baseline) are the lowest seen
   * over this long, ms: an origin that became slower for good is learned
   * again within it, not taken for a queue forever. @default 60000
   */
  baselineWindowMs: between(1, 7 * 86_400_000).default(60_000),
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
  /**
   * Calls a second the fleet makes now, from each client's own interval
   * (see OriginHealthFigures.throughput); without it, `samples` over the
   * control interval.
   */
  readonly throughput?: number
}

/**
 * The `watch` config section: the business metrics watched, each with the
 * bad direction, the smallest deviation that matters and, optionally, its
 * seasonal period. Empty by default: nothing is watched until named.
 */
import { z } from 'zod'
import { between } from '../validate.js'

const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
}

/** A duration: milliseconds, or a number with a unit (`1d`, `12h`, `30m`, `1w`). */
export const durationMs = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d+(\.\d+)?(ms|s|m|h|d|w)$/, { error: 'a duration: 1d, 12h, 30m, 1w, or ms' })
    .transform((s) => {
      const [, n, unit] = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(s)!
      return Math.round(Number(n) * UNITS[unit!]!)
    }),
])

export const watchEntrySchema = z.strictObject({
  /** A series: an SDK count (`slew.count(name)`) summed over the fleet, or one posted to /v1/metrics. */
  metric: z
    .string()
    .regex(/^[\w.:-]{1,100}$/, { error: 'a metric name: 1-100 of [A-Za-z0-9_.:-]' }),
  /** Which direction is bad. @default lower */
  worse: z.enum(['lower', 'higher']).default('lower'),
  /** With forMs, the smallest deviation that matters: noise units of a forMs window's mean. @default 4 */
  threshold: between(0.5, 100).default(4),
  /** @default 10000 */
  forMs: between(1000, 3_600_000).default(10_000),
  /** Back within bounds this long closes an incident, ms. @default 60000 */
  clearMs: between(0, 86_400_000).default(60_000),
  /** The seasonal period (`1d`, `1w`, or ms); absent: level and trend only. */
  period: durationMs
    .refine((ms) => ms >= 60_000 && ms <= 28 * 86_400_000, {
      error: 'a period between 1 minute and 4 weeks',
    })
    .optional(),
  /** Periods of history the seasonal expectation takes (the median of them). @default 3 */
  history: between(1, 12, { int: true }).default(3),
})
export type WatchEntry = z.output<typeof watchEntrySchema>

export const watchSchema = z
  .array(watchEntrySchema)
  .max(32, { error: 'at most 32 watched metrics' })
  .refine((w) => new Set(w.map((e) => e.metric)).size === w.length, {
    error: 'each metric at most once',
  })
  .default([])

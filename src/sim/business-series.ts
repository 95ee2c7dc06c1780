/**
 * The business scenario's fleet-wide series: a count (orders, say) whose
 * mean rate has a daily cycle (a night trough, a day peak, an evening bump),
 * a weekly shape (weekend days × 0.8, eased in and out over six hours around
 * midnight) and promotions (a lift of 30–100 % for 10–60 minutes, ramped up
 * and down over 2–5 minutes), scaled so that its mean over a week without
 * promotions is `rate`. Day 0 is a Monday, midnight. Counts are Poisson
 * around it, exact for small means. Deterministic for a seed.
 */
import { mulberry32 } from './rng.js'

export const SECOND_MS = 1000
export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000
export const WEEK_MS = 7 * DAY_MS

/** Weekend days carry this share of a weekday's traffic. */
const WEEKEND = 0.8
/** The weekend eases in and out over this long, centred on midnight. */
const WEEKEND_EASE_MS = 6 * HOUR_MS

/** Smooth 0 → 1 as x goes 0 → 1 (a raised cosine), flat outside. */
const ease = (x: number): number => (x <= 0 ? 0 : x >= 1 ? 1 : (1 - Math.cos(Math.PI * x)) / 2)

/** The daily cycle at hour h: a trough of 0.5 at 03:00, a peak of 1.5 at 15:00, a bump at 20:00. */
const daily = (h: number): number =>
  1 + 0.5 * Math.cos((2 * Math.PI * (h - 15)) / 24) + 0.15 * Math.exp(-(((h - 20) / 1.5) ** 2))

/** The weekly shape at `t` (ms since a Monday midnight): 1 on weekdays, WEEKEND at the weekend. */
const weekly = (t: number): number => {
  const w = (((t % WEEK_MS) + WEEK_MS) % WEEK_MS) / WEEK_MS
  const at = (day: number) => (w * WEEK_MS - day * DAY_MS + WEEKEND_EASE_MS / 2) / WEEKEND_EASE_MS
  // In from Saturday's midnight (day 5), out by Monday's (day 7); wraps for the Monday before.
  const weekend = ease(at(5)) - ease(at(7)) + (w < 0.5 ? 1 - ease(at(0)) : 0)
  return 1 - (1 - WEEKEND) * weekend
}

/** The seasonal shape (daily × weekly) at `t`, before scaling. */
const shape = (t: number): number => daily((t % DAY_MS) / HOUR_MS) * weekly(t)

/** 1 ÷ the shape's mean over a week, so that `rate` is the weekly mean. */
const NORM = (() => {
  let sum = 0
  let n = 0
  for (let t = 0; t < WEEK_MS; t += MINUTE_MS, n++) sum += shape(t + MINUTE_MS / 2)
  return n / sum
})()

export interface Promotion {
  readonly start: number
  /** Ramp up, plateau and ramp down, ms. */
  readonly rampMs: number
  readonly plateauMs: number
  /** The lift on the plateau: 0.5 is +50 %. */
  readonly lift: number
}

/** When a promotion's lift is gone. */
export const promotionEnd = (p: Promotion): number => p.start + 2 * p.rampMs + p.plateauMs

/** `perWeek` promotions on average over [0, totalMs), at uniform times, from a seed. */
export const drawPromotions = (seed: number, perWeek: number, totalMs: number): Promotion[] => {
  const random = mulberry32(seed)
  const n = Math.round((perWeek * totalMs) / WEEK_MS)
  return Array.from({ length: n }, () => ({
    start: Math.floor((random() * totalMs) / SECOND_MS) * SECOND_MS,
    rampMs: Math.round(2 + 3 * random()) * MINUTE_MS,
    plateauMs: Math.round(10 + 50 * random()) * MINUTE_MS,
    lift: 0.3 + 0.7 * random(),
  })).sort((a, b) => a.start - b.start)
}

/**
 * The mean rate of each second of [0, steps s) (events/s, at the second's
 * middle): the seasonal shape scaled to `rate`, lifted by the promotions.
 */
export const baseRates = (
  rate: number,
  steps: number,
  promotions: readonly Promotion[],
): Float64Array => {
  const out = new Float64Array(steps)
  for (let s = 0; s < steps; s++) out[s] = rate * NORM * shape(s * SECOND_MS + SECOND_MS / 2)
  for (const p of promotions) {
    const end = promotionEnd(p)
    for (let s = Math.floor(p.start / SECOND_MS); s < Math.min(steps, end / SECOND_MS); s++) {
      const t = s * SECOND_MS + SECOND_MS / 2 - p.start
      const up = ease(t / p.rampMs)
      const down = 1 - ease((t - p.rampMs - p.plateauMs) / p.rampMs)
      out[s] = out[s]! * (1 + p.lift * Math.min(up, down))
    }
  }
  return out
}

/**
 * Poisson counts from `random`: exact (Knuth's product of uniforms) below a
 * mean of 30, where a client's few events per heartbeat fall; the normal
 * approximation above, as `poissonCounts` draws them.
 */
export const poissonFrom =
  (random: () => number) =>
  (mean: number): number => {
    if (!(mean > 0)) return 0
    if (mean < 30) {
      const floor = Math.exp(-mean)
      let k = 0
      for (let p = random(); p > floor; p *= random()) k++
      return k
    }
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * z))
  }

/** Each client's share of the traffic: lognormal weights of spread `sigma`, summing to 1. */
export const clientWeights = (seed: number, clients: number, sigma: number): Float64Array => {
  const random = mulberry32(seed)
  const w = new Float64Array(clients)
  let sum = 0
  for (let i = 0; i < clients; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
    w[i] = Math.exp(sigma * z)
    sum += w[i]!
  }
  for (let i = 0; i < clients; i++) w[i] = w[i]! / sum
  return w
}

/** Window-bound checks shared by the properties and the tests that read a delivery log. */
import { SlidingPeak } from '../../src/limiter/window.js'

/** Window lengths (ms) every bound is checked over. */
export const WINDOWS = [1, 10, 100, 250, 1000, 5000, 30_000]

/** Float slack: GCRA's 1e-3 ms tolerance lets through ≤ rate·1e-6 per take. */
export const SLACK = 1e-3

/** Peak summed amount over any window of `windowMs`, for events in time order. */
export const peakOver = (
  events: readonly (readonly [number, number])[],
  windowMs: number,
): number => {
  const p = new SlidingPeak(windowMs)
  for (const [at, amount] of events) p.add(at, amount)
  return p.peak
}

/**
 * Deliveries of one budget class, `[at, cost]`, against B1: in every window
 * `[t, t+T)` their summed cost is at most `cap + ratePerSec·T` (`cap`: the
 * burst, or the largest single cost if more). Checked over every pair of
 * deliveries, as the tightest windows start and end on one; the window
 * furthest over the bound, or undefined if none is.
 */
export const overB1 = (
  deliveries: readonly (readonly [at: number, cost: number])[],
  ratePerSec: number,
  cap: number,
): { from: number; ms: number; cost: number; bound: number } | undefined => {
  const d = [...deliveries].sort((a, b) => a[0] - b[0])
  let worst: { from: number; ms: number; cost: number; bound: number } | undefined
  for (let i = 0; i < d.length; i++) {
    let cost = 0
    for (let j = i; j < d.length; j++) {
      cost += d[j]![1]
      const ms = d[j]![0] - d[i]![0]
      const bound = cap + (ratePerSec * ms) / 1000
      if (cost > bound + SLACK && (!worst || cost - bound > worst.cost - worst.bound))
        worst = { from: d[i]![0], ms, cost, bound }
    }
  }
  return worst
}

/** Window-bound checks shared by the properties. */
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

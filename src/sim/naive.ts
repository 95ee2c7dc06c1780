/**
 * Naive broadcast, as Redis client-side caching or a pub/sub bus does it:
 * every client drops every entry at t0, and refetches each on its next
 * access. A client's requests follow a Zipf(skew) popularity over its
 * entries, so entry k (rank from 1) is next asked for after an exponential
 * time with rate rps·p_k; that is when it hits the origin. Computed per
 * entry, not per request, so a million clients take seconds.
 */
import type { Fleet } from './fleet.js'
import { mulberry32 } from './rng.js'

export interface NaiveResult {
  readonly perSecond: Float64Array
  /** Peak fetches in any 1 s window (windows aligned to 1 ms). */
  readonly peakPerSec: number
  /** Fetches within the horizon. */
  readonly total: number
}

/** Fine (1 ms) bins are kept for the first 10 minutes, where the peak is. */
const FINE_MS = 600_000

export const runNaive = (fleet: Fleet, opts: { skew: number; horizonMs: number; seed: number }) => {
  const rand = mulberry32(opts.seed ^ 0x9a17e)
  const maxE = fleet.maxEntries
  const rankPow = new Float64Array(maxE + 1)
  const harmonic = new Float64Array(maxE + 1)
  for (let k = 1; k <= maxE; k++) {
    rankPow[k] = k ** opts.skew
    harmonic[k] = harmonic[k - 1]! + 1 / rankPow[k]!
  }
  const horizon = opts.horizonMs
  const fineLen = Math.min(FINE_MS, Math.ceil(horizon))
  const fine = new Float64Array(fineLen)
  const perSecond = new Float64Array(Math.max(1, Math.ceil(horizon / 1000)))
  let total = 0
  for (let i = 0; i < fleet.size; i++) {
    const e = fleet.entries[i]!
    const rate = fleet.rps[i]!
    if (e === 0 || rate <= 0) continue
    // ms until entry k is next requested = -ln(u) · H_e · k^s / rate · 1000
    const scale = (harmonic[e]! * 1000) / rate
    for (let k = 1; k <= e; k++) {
      const t = -Math.log(1 - rand()) * scale * rankPow[k]!
      if (t >= horizon) continue
      const ms = t | 0
      if (ms < fineLen) fine[ms]!++
      perSecond[(t / 1000) | 0]!++
      total++
    }
  }
  let window = 0
  let peak = 0
  for (let ms = 0; ms < fineLen; ms++) {
    window += fine[ms]!
    if (ms >= 1000) window -= fine[ms - 1000]!
    if (window > peak) peak = window
  }
  return { perSecond, peakPerSec: peak, total } satisfies NaiveResult
}

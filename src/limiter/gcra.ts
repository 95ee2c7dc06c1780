/**
 * GCRA (the generic cell rate algorithm): a token bucket kept as one number,
 * the theoretical arrival time `tat`. Pure functions of (state, now, cost), so
 * the Redis Lua twin can mirror them line by line.
 *
 * Guarantee (by construction): over any window [t, t+W) the summed cost of
 * successful takes is at most `max(burst, largest cost) + ratePerSec·W/1000`.
 * A take bigger than `burst` is allowed only when the bucket is full and then
 * leaves the bucket in debt, so it never rides on top of a burst.
 */

export interface GcraParams {
  /** Units earned per second. */
  readonly ratePerSec: number
  /** Units that may go at once from a full bucket. */
  readonly burst: number
}

export interface TakeResult {
  readonly ok: boolean
  /** The state after the take (unchanged when refused). */
  readonly tat: number
  /** When refused: ms until the same take would succeed, if nobody else takes. 0 when ok. */
  readonly retryAfterMs: number
}

export interface GrantResult {
  /** Units granted now, 0..want. */
  readonly granted: number
  readonly tat: number
  /** When granted < want: ms until the rest (up to `burst`) would be available. */
  readonly retryAfterMs: number
}

/**
 * Float tolerance in ms. Real-clock times are ~1.7e12 ms, where a double
 * resolves ~2.4e-4 ms; allowing 1e-3 ms keeps the pacer from waking for a
 * rounding error and lets through at most ratePerSec·1e-6 extra units per take.
 */
export const EPSILON_MS = 1e-3

export const intervalMs = (p: GcraParams): number => 1000 / p.ratePerSec

/** Try to take `cost` units at `now`. */
export const gcraTake = (tat: number, now: number, cost: number, p: GcraParams): TakeResult => {
  const interval = intervalMs(p)
  const tolerance = p.burst * interval
  const base = Math.max(tat, now)
  const next = base + cost * interval
  if (next - now <= tolerance + EPSILON_MS) return { ok: true, tat: next, retryAfterMs: 0 }
  if (cost > p.burst) {
    // Oversize: only from a full bucket (tat <= now).
    if (tat <= now + EPSILON_MS) return { ok: true, tat: next, retryAfterMs: 0 }
    return { ok: false, tat, retryAfterMs: tat - now }
  }
  return { ok: false, tat, retryAfterMs: next - tolerance - now }
}

/** Whole units available at `now`. */
export const gcraAvailable = (tat: number, now: number, p: GcraParams): number => {
  const interval = intervalMs(p)
  const base = Math.max(tat, now)
  const units = Math.floor((now + p.burst * interval - base + EPSILON_MS) / interval)
  return Math.max(units, 0)
}

/** Grant up to `want` whole units at `now` (partial grants allowed): the lease primitive. */
export const gcraGrant = (tat: number, now: number, want: number, p: GcraParams): GrantResult => {
  const interval = intervalMs(p)
  const granted = Math.min(want, gcraAvailable(tat, now, p))
  const after = granted > 0 ? Math.max(tat, now) + granted * interval : tat
  if (granted >= want) return { granted, tat: after, retryAfterMs: 0 }
  const rest = Math.min(want - granted, Math.max(1, Math.floor(p.burst)))
  const retry = gcraTake(after, now, rest, p).retryAfterMs
  return { granted, tat: after, retryAfterMs: Math.max(retry, 0) }
}

/**
 * Reserve `cost` units now, even if they are not available yet: the budget is
 * committed at once and the caller may use it `delayMs` from now. Keeps the
 * same window bound, since the units are counted at the time they may be used.
 */
export const gcraReserve = (
  tat: number,
  now: number,
  cost: number,
  p: GcraParams,
): { tat: number; delayMs: number } => {
  const interval = intervalMs(p)
  const tolerance = Math.max(p.burst, cost) * interval
  const base = Math.max(tat, now)
  const next = base + cost * interval
  const delay = next - tolerance - now
  return { tat: next, delayMs: Math.max(delay, 0) }
}

/**
 * The one source of time. The engine, the limiter and the SDK's refresh policy
 * read time and set timers only through a Clock, so the same code runs online
 * (realClock), in the simulator and in property tests (VirtualClock).
 */

export interface Timer {
  cancel(): void
}

export interface Clock {
  /** Milliseconds; monotonic within one clock. */
  now(): number
  /** Run `fn` once, `delayMs` from now (negative or NaN counts as 0; realClock holds at most 24.8 days). */
  setTimer(delayMs: number, fn: () => void): Timer
}

/** Wall-clock time from a monotonic source: performance.timeOrigin + performance.now(). */
/** The longest delay a Node timer holds (2^31 - 1 ms, 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647

export const realClock: Clock = Object.freeze({
  now: () => performance.timeOrigin + performance.now(),
  setTimer(delayMs: number, fn: () => void): Timer {
    const handle = setTimeout(fn, Math.min(MAX_TIMER_MS, Math.max(0, delayMs || 0)))
    return { cancel: () => clearTimeout(handle) }
  },
})

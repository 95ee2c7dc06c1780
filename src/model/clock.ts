/**
 * The one source of time. The engine, the limiter and the SDK's refresh policy
 * read time and set timers only through a Clock, so the same code runs online
 * (realClock, in limiter/clock.ts), in the simulator and in property tests
 * (VirtualClock).
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

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

/**
 * The longest delay one `setTimeout` takes (2^31 − 1 ms, about 24.8 days):
 * Node runs a longer one after 1 ms, with a TimeoutOverflowWarning.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Wall-clock time from a monotonic source: performance.timeOrigin + performance.now().
 * A timer longer than MAX_TIMER_MS sleeps in steps of at most that, so it
 * fires when asked (an infinite one never), never early.
 */
export const realClock: Clock = Object.freeze({
  now: () => performance.timeOrigin + performance.now(),
  setTimer(delayMs: number, fn: () => void): Timer {
    let handle: ReturnType<typeof setTimeout>
    const sleep = (ms: number) => {
      handle =
        ms > MAX_TIMER_MS
          ? setTimeout(() => sleep(ms - MAX_TIMER_MS), MAX_TIMER_MS)
          : setTimeout(fn, ms)
    }
    sleep(Math.max(0, delayMs || 0))
    return { cancel: () => clearTimeout(handle) }
  },
})

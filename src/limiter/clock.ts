/**
 * The real clock, the one implementation of model's Clock that reads the
 * wall: every other `Date.now()` would be a clock nobody can fake.
 */
import type { Clock, Timer } from '../model/clock.js'

/** The interfaces live in model/; named here too for the code that takes them with the clock. */
export type { Clock, Timer }

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

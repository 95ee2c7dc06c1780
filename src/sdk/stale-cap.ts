/**
 * The guard's cap on how much of the cache may go stale per minute. An
 * invalidation over the cap is not dropped: the excess waits and is applied
 * as the cap allows, oldest first.
 */
import { Bucket } from '../limiter/bucket.js'
import type { Clock, Timer } from '../limiter/clock.js'

interface Work {
  readonly keys: readonly string[]
  next: number
  readonly apply: (keys: readonly string[]) => void
}

export class StaleCap {
  readonly #bucket: Bucket
  readonly #queue: Work[] = []
  #timer: Timer | undefined

  constructor(
    perMinute: number,
    private readonly clock: Clock,
  ) {
    this.#bucket = new Bucket({ ratePerSec: perMinute / 60, burst: Math.max(1, perMinute) }, clock)
  }

  /** Entries still waiting to go stale. */
  get waiting(): number {
    return this.#queue.reduce((n, w) => n + w.keys.length - w.next, 0)
  }

  /** Apply `apply` to `keys`, as many now as the cap allows and the rest later. */
  submit(keys: readonly string[], apply: (keys: readonly string[]) => void): void {
    if (keys.length === 0) return
    this.#queue.push({ keys, next: 0, apply })
    if (!this.#timer) this.#pump()
  }

  close(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#queue.length = 0
  }

  #pump(): void {
    this.#timer = undefined
    while (this.#queue.length > 0) {
      const w = this.#queue[0]!
      const grant = this.#bucket.grant(w.keys.length - w.next)
      if (grant.granted > 0) {
        w.apply(w.keys.slice(w.next, w.next + grant.granted))
        w.next += grant.granted
      }
      if (w.next >= w.keys.length) {
        this.#queue.shift()
        continue
      }
      this.#timer = this.clock.setTimer(Math.max(1, grant.retryAfterMs), () => this.#pump())
      return
    }
  }
}

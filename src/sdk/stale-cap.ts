/**
 * The guard's cap on how much of the cache may go stale per minute: at most
 * `perMinute` entries in any 60 s window, half of it at once. An invalidation
 * over the cap is not dropped: the excess waits and is applied as the cap
 * allows, oldest first.
 */
import { Bucket } from '../limiter/bucket.js'
import type { Clock, Timer } from '../model/clock.js'

interface Work {
  readonly keys: readonly string[]
  next: number
  readonly apply: (keys: readonly string[]) => void
}

export class StaleCap {
  readonly #bucket: Bucket
  readonly #chunk: number
  readonly #queue: Work[] = []
  #timer: Timer | undefined

  constructor(
    perMinute: number,
    private readonly clock: Clock,
  ) {
    // Half at once, half spread over the minute: any 60 s window sees at most `perMinute`.
    this.#bucket = new Bucket(
      { ratePerSec: perMinute / 120, burst: Math.max(1, perMinute / 2) },
      clock,
    )
    this.#chunk = Math.max(1, Math.ceil(perMinute / 120))
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
      const left = w.keys.length - w.next
      const n = Math.min(left, this.#bucket.available())
      if (n > 0) {
        this.#bucket.take(n)
        w.apply(w.keys.slice(w.next, w.next + n))
        w.next += n
      }
      if (w.next >= w.keys.length) {
        this.#queue.shift()
        continue
      }
      // Come back when about a second's worth is there, not a whole minute's.
      const wait = this.#bucket.retryAfter(Math.min(left - n, this.#chunk))
      this.#timer = this.clock.setTimer(Math.max(1, wait), () => this.#pump())
      return
    }
  }
}

/**
 * Admission control for new stream connections (B3): a GCRA bucket admits at
 * most `burst + ratePerSec·T` in any window. A refused client is promised a
 * slot of its own: each refusal reserves the next free one on a second
 * schedule that runs at the same rate, so refused clients come back spread out
 * at the admission rate instead of all at once, and all get in.
 */
import { Bucket } from '../limiter/bucket.js'
import type { GcraParams } from '../limiter/gcra.js'
import type { Clock } from '../model/clock.js'

export interface AdmissionDecision {
  readonly admitted: boolean
  /** When refused: come back after this long. */
  readonly retryAfterMs: number
}

export class Admission {
  #admit: Bucket
  #promises: Bucket
  #admitted = 0
  #refused = 0

  constructor(
    params: GcraParams,
    private readonly clock: Clock,
    private readonly random: () => number = Math.random,
  ) {
    this.#admit = new Bucket(params, clock)
    // The promise schedule has no burst of its own: one slot per 1/rate.
    this.#promises = new Bucket({ ratePerSec: params.ratePerSec, burst: 1 }, clock)
  }

  get admitted(): number {
    return this.#admitted
  }

  get refused(): number {
    return this.#refused
  }

  /** The whole state (counts and both buckets' TATs), for inspection. */
  get state(): { admitted: number; refused: number; admitTat: number; promiseTat: number } {
    return {
      admitted: this.#admitted,
      refused: this.#refused,
      admitTat: this.#admit.tat,
      promiseTat: this.#promises.tat,
    }
  }

  /** Change rate and burst; the buckets keep their state. */
  reconfigure(params: GcraParams): void {
    this.#admit = new Bucket(params, this.clock, this.#admit.tat)
    this.#promises = new Bucket(
      { ratePerSec: params.ratePerSec, burst: 1 },
      this.clock,
      this.#promises.tat,
    )
  }

  decide(): AdmissionDecision {
    if (this.#admit.take(1).ok) {
      this.#admitted++
      return { admitted: true, retryAfterMs: 0 }
    }
    return { admitted: false, retryAfterMs: this.promise(this.#admit.retryAfter(1)) }
  }

  /**
   * A refused client's own come-back time: the next free slot on the
   * promise schedule (at least `earliestMs` away), plus up to one slot of
   * jitter so clients promised adjacent slots do not collide.
   */
  promise(earliestMs = 0): number {
    this.#refused++
    const wait = Math.max(earliestMs, this.#promises.reserve(1))
    const slot = 1000 / this.#admit.params.ratePerSec
    return Math.ceil(wait + this.random() * slot)
  }
}

/**
 * Admission control for new stream connections (B3): a GCRA bucket admits at
 * most `burst + ratePerSec·T` in any window. A refused client is promised a
 * slot of its own: each refusal reserves the next free one on a second
 * schedule that runs at the same rate, plus up to one slot of jitter, so
 * refused clients come back spread out at the admission rate instead of all
 * at once, and all get in.
 *
 * Where admission is decided here (decide(): the memory store), a promise is
 * kept: a client back for its slot takes the next unit of the bucket, and if
 * the bucket has none just then (slots are jittered, the SDK comes back 0–10 %
 * after what it is told, and new clients take what is free), it is told when
 * the next unit comes and keeps its promise. It is never promised a slot
 * after everyone else's. Every admission takes its unit when it happens (a
 * unit set aside for a client that came back late let a window hold one
 * admission too many), so B3 holds however clients time their returns. (It used to be:
 * refused again, it was promised the next slot on a schedule that every such
 * refusal pushed further ahead of the admissions, and units went unused
 * meanwhile. After a crash of a coordinator holding 19,500 streams, admitting
 * 200/s, with their first attempts spread out by a full accept queue, 1,983
 * were still not back after 3.6 times 19,500 ÷ 200/s; now all are, in about
 * 1.1 times: bench/fleet-30k.ts.) A promise not claimed in time lapses. On
 * Redis (replicas) the bucket is the store's, and only promise() is used here.
 */
import { Bucket } from '../limiter/bucket.js'
import type { GcraParams } from '../limiter/gcra.js'
import type { Clock } from '../model/clock.js'

export interface AdmissionDecision {
  readonly admitted: boolean
  /** When refused: come back after this long. */
  readonly retryAfterMs: number
}

/** A promised slot: the client may come from `from` (what it was told); kept until `until`. */
interface Held {
  readonly from: number
  readonly until: number
}

/** How long past what it was told a promise is kept: the SDK comes back 0–10 % later, and some. */
const keptFor = (toldMs: number) => toldMs * 0.2 + 2000

export class Admission {
  #admit: Bucket
  #promises: Bucket
  /** Promised slots by client, in the order promised (so about in slot order). */
  readonly #held = new Map<string, Held>()
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

  /** The whole state (counts, both buckets' TATs, promises held), for inspection. */
  get state(): {
    admitted: number
    refused: number
    admitTat: number
    promiseTat: number
    promised: number
  } {
    return {
      admitted: this.#admitted,
      refused: this.#refused,
      admitTat: this.#admit.tat,
      promiseTat: this.#promises.tat,
      promised: this.#held.size,
    }
  }

  /** Change rate and burst; the buckets keep their state, and promises stand. */
  reconfigure(params: GcraParams): void {
    this.#admit = new Bucket(params, this.clock, this.#admit.tat)
    this.#promises = new Bucket(
      { ratePerSec: params.ratePerSec, burst: 1 },
      this.clock,
      this.#promises.tat,
    )
  }

  /** Let `clientId`'s new stream in now, or tell it when to come back (its promised slot). */
  decide(clientId: string): AdmissionDecision {
    const now = this.clock.now()
    this.#lapse(now)
    const held = this.#held.get(clientId)
    if (held) {
      // Back before its time: the slot stays its own.
      if (now < held.from) return this.#refuse(held.from - now)
      if (this.#admit.take(1).ok) {
        this.#held.delete(clientId)
        return this.#admitOne()
      }
      // Its slot came with another's (slots and returns are jittered): it is told when the next
      // unit comes, plus up to one slot of jitter, and keeps its place ahead of the promise
      // schedule (not the end of the queue). The unit is not set aside for it: every admission
      // takes its unit when it happens, so B3 holds however late the client comes back.
      const wait = this.#admit.retryAfter(1) + this.random() * this.#slotMs()
      this.#held.delete(clientId)
      this.#held.set(clientId, { from: now + wait, until: now + wait + keptFor(wait) })
      return this.#refuse(wait)
    }
    if (this.#admit.take(1).ok) return this.#admitOne()
    const told = this.promise(this.#admit.retryAfter(1))
    this.#held.set(clientId, { from: now + told, until: now + told + keptFor(told) })
    return { admitted: false, retryAfterMs: told }
  }

  /**
   * A refused client's own come-back time: the next free slot on the
   * promise schedule (at least `earliestMs` away), plus up to one slot of
   * jitter so clients promised adjacent slots do not collide.
   */
  promise(earliestMs = 0): number {
    this.#refused++
    const wait = Math.max(earliestMs, this.#promises.reserve(1))
    return Math.ceil(wait + this.random() * this.#slotMs())
  }

  #slotMs(): number {
    return 1000 / this.#admit.params.ratePerSec
  }

  #admitOne(): AdmissionDecision {
    this.#admitted++
    return { admitted: true, retryAfterMs: 0 }
  }

  #refuse(ms: number): AdmissionDecision {
    this.#refused++
    return { admitted: false, retryAfterMs: Math.max(1, Math.ceil(ms)) }
  }

  /** Promises not claimed in time lapse (their slots went unused); the oldest come first. */
  #lapse(now: number): void {
    for (const [id, held] of this.#held) {
      if (held.until > now) return
      this.#held.delete(id)
    }
  }
}

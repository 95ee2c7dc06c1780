/** A GCRA bucket bound to a Clock: the in-process budget. */
import { bucketParamsSchema } from '../model/budget.js'
import type { Clock } from '../model/clock.js'
import { parseOptions } from '../validate.js'
import { type Asking, gcraGrantShare, type ShareGrantResult } from './fair.js'
import {
  type GcraParams,
  type GrantResult,
  gcraAvailable,
  gcraGrant,
  gcraReserve,
  gcraTake,
  type TakeResult,
} from './gcra.js'

export class Bucket {
  #params: GcraParams
  #tat: number

  constructor(
    params: GcraParams,
    private readonly clock: Clock,
    tat?: number,
  ) {
    this.#params = parseOptions(bucketParamsSchema, params)
    // A new bucket starts full.
    this.#tat = tat ?? Number.NEGATIVE_INFINITY
  }

  get params(): GcraParams {
    return this.#params
  }

  /** New rate and burst from now on; the state (tat) carries over. */
  set params(params: GcraParams) {
    this.#params = parseOptions(bucketParamsSchema, params)
  }

  /** The whole state: persist it to resume the same budget elsewhere. */
  get tat(): number {
    return this.#tat
  }

  /** Take `cost` units at `now` (default: the clock's now; never a time later than it). */
  take(cost = 1, now = this.clock.now()): TakeResult {
    const r = gcraTake(this.#tat, now, cost, this.#params)
    this.#tat = r.tat
    return r
  }

  /** Grant up to `want` whole units now. */
  grant(want: number): GrantResult {
    const r = gcraGrant(this.#tat, this.clock.now(), want, this.#params)
    this.#tat = r.tat
    return r
  }

  /**
   * Grant up to `want` whole units now to `clientId`, one of the clients in
   * `asking`: within its fair share, or beyond it from above the others'
   * reserve; `inBursts`, a share's burst at a time or none (see gcraGrantShare).
   */
  grantShare(asking: Asking, clientId: string, want: number, inBursts = false): ShareGrantResult {
    const now = this.clock.now()
    const who = asking.ask(clientId, now)
    const r = gcraGrantShare(
      this.#tat,
      who.clientTat,
      who.asking,
      now,
      want,
      this.#params,
      asking.windowMs,
      asking.hold,
      inBursts,
    )
    this.#tat = r.tat
    asking.set(clientId, r.clientTat)
    asking.hold = r.hold
    return r
  }

  /** Commit `cost` units now; usable after the returned delay. */
  reserve(cost: number): number {
    const r = gcraReserve(this.#tat, this.clock.now(), cost, this.#params)
    this.#tat = r.tat
    return r.delayMs
  }

  /** Ms until `cost` units could be taken (0 if now). */
  retryAfter(cost = 1): number {
    return gcraTake(this.#tat, this.clock.now(), cost, this.#params).retryAfterMs
  }

  available(): number {
    return gcraAvailable(this.#tat, this.clock.now(), this.#params)
  }
}

/**
 * Where a client's refetch tokens come from. While the coordinator answers,
 * from its leases (B2), a "no" obeyed like any answer. While it cannot be
 * reached (no answer, a timeout, a 5xx), from a local GCRA bucket per class
 * at this client's share of the class's last known rate: degraded mode (S),
 * so readers of hard-invalidated keys are answered and the origin still sees
 * a bounded rate. n clients at `rate/n` with a burst of `max(1, burst/n)`
 * keep the fleet within `max(burst, n) + rate·T` in any window T. Back to
 * leases as soon as a lease call succeeds again.
 */
import { HttpError } from '../errors.js'
import { Bucket } from '../limiter/bucket.js'
import { fairShare } from '../limiter/fair.js'
import type { GcraParams } from '../limiter/gcra.js'
import type { TokenClass } from '../model/budget.js'
import type { Clock } from '../model/clock.js'
import { type LeaseResponse, leaseTermsSchema } from '../protocol/messages.js'
import type { LeaseGrant } from '../refresh/driver.js'
import { Backoff } from './backoff.js'

/**
 * A client that never heard the fleet's terms (no heartbeat answered yet)
 * refetches at one token a second per class, one at a time: slow, and never
 * unbounded.
 */
export const DEFAULT_SHARE: GcraParams = Object.freeze({ ratePerSec: 1, burst: 1 })

/**
 * A lease call is abandoned after this long (or after the lease TTL, if
 * longer), and the coordinator taken for unreachable: its tokens would
 * mostly be expired by then anyway (they count from when they were asked
 * for). Not shorter: each client that takes a slow coordinator for a dead
 * one adds its share on top of what the coordinator grants.
 */
export const LEASE_TIMEOUT_MS = 1000

/** While degraded, the coordinator is asked again after a full-jitter backoff from 1 s to 10 s. */
const PROBE_BACKOFF = { baseMs: 1000, capMs: 10_000, resetAfterMs: Number.POSITIVE_INFINITY }

/**
 * Local tokens are spent in the tick they are granted in: they expire 1 ms
 * later, so none is saved up beyond the bucket's burst.
 */
const LOCAL_TOKEN_TTL_MS = 1

/** One client's share of a fleet-wide budget (the coordinator's leases use the same split). */
export { fairShare }

/**
 * Did a lease call fail for want of a coordinator (no answer, a timeout, a
 * 5xx or 408), rather than by what a coordinator answered (4xx)?
 */
export const unreachable = (error: unknown): boolean =>
  !(error instanceof HttpError) || error.status >= 500 || error.status === 408

/** A lease answer the refresh driver can use; anything else is no answer. */
const usable = (g: LeaseResponse): LeaseGrant => {
  const ok =
    Number.isSafeInteger(g?.granted) &&
    g.granted >= 0 &&
    Number.isFinite(g.ttlMs) &&
    Number.isFinite(g.retryAfterMs)
  if (!ok) throw new TypeError(`Not a lease answer: ${JSON.stringify(g)}`)
  return g
}

export interface LeasesOptions {
  readonly clock: Clock
  readonly random: () => number
  /** Ask the coordinator for `want` tokens of `cls`, giving up after `timeoutMs`. */
  readonly remote: (want: number, cls: TokenClass, timeoutMs: number) => Promise<LeaseResponse>
  /** Degraded mode begins: `cause` is why the lease call failed. */
  readonly degraded: (cause: unknown) => void
  /** Degraded mode ends: a lease call got an answer. */
  readonly recovered: () => void
}

export class Leases {
  readonly #buckets = new Map<TokenClass, Bucket>()
  #budgets: Readonly<Record<TokenClass, GcraParams>> | undefined
  #fleetSize: number | undefined
  #leaseTtlMs: number | undefined
  #degraded = false
  #probing = false
  #probeAt = 0
  #probes: Backoff
  #local = 0

  constructor(private readonly o: LeasesOptions) {
    this.#probes = new Backoff(PROBE_BACKOFF, o.random)
  }

  /** True while tokens come from the local bucket (the last lease call found no coordinator). */
  get degraded(): boolean {
    return this.#degraded
  }

  /** Tokens taken from the local bucket so far. */
  get localTokensUsed(): number {
    return this.#local
  }

  /** How long a lease call may take. */
  get timeoutMs(): number {
    return Math.max(LEASE_TIMEOUT_MS, this.#leaseTtlMs ?? 0)
  }

  /** The rate and burst this client refetches `cls` at while degraded. */
  share(cls: TokenClass): GcraParams {
    if (this.#budgets === undefined || this.#fleetSize === undefined) return DEFAULT_SHARE
    return fairShare(this.#budgets[cls], this.#fleetSize)
  }

  /**
   * A heartbeat was answered: keep the terms it carries (an answer without
   * them, or not valid, changes none) and, while degraded, ask the
   * coordinator again at the next lease.
   */
  learn(answer: unknown): void {
    const terms = leaseTermsSchema.safeParse(answer)
    if (terms.success) {
      const { budgets, fleetSize, leaseTtlMs } = terms.data
      if (budgets) this.#budgets = budgets
      if (fleetSize !== undefined) this.#fleetSize = fleetSize
      if (leaseTtlMs !== undefined) this.#leaseTtlMs = leaseTtlMs
      for (const [cls, bucket] of this.#buckets) bucket.params = this.share(cls)
    }
    this.#probeAt = 0
  }

  /**
   * Up to `want` tokens of `cls`: leased, or, with no coordinator to lease
   * from, local. Local tokens expire at once, so of those only `want - ahead`
   * (`ahead`: asked for work queued behind the caller's slots).
   */
  async lease(want: number, cls: TokenClass, ahead = 0): Promise<LeaseGrant> {
    const atOnce = Math.max(1, want - ahead)
    const askedAt = this.o.clock.now()
    // Degraded: one call at a time asks the coordinator again, when its backoff says.
    if (this.#degraded && (this.#probing || askedAt < this.#probeAt))
      return this.#grantLocally(atOnce, cls, askedAt)
    const probe = this.#degraded
    if (probe) this.#probing = true
    try {
      const grant = usable(await this.o.remote(want, cls, this.timeoutMs))
      if (grant.ttlMs > 0) this.#leaseTtlMs = grant.ttlMs
      this.#reached()
      return grant
    } catch (error) {
      if (!unreachable(error)) {
        // A coordinator answered, with a refusal: not degraded, and the caller hears it.
        this.#reached()
        throw error
      }
      if (!this.#degraded) {
        this.#degraded = true
        this.#probes = new Backoff(PROBE_BACKOFF, this.o.random)
        this.o.degraded(error)
      }
      this.#probeAt = this.o.clock.now() + this.#probes.next()
      return this.#grantLocally(atOnce, cls, askedAt)
    } finally {
      if (probe) this.#probing = false
    }
  }

  #reached(): void {
    if (!this.#degraded) return
    this.#degraded = false
    this.o.recovered()
  }

  #grantLocally(want: number, cls: TokenClass, askedAt: number): LeaseGrant {
    let bucket = this.#buckets.get(cls)
    if (!bucket) {
      // Starts full: the burst share is the first thing degraded mode may spend.
      bucket = new Bucket(this.share(cls), this.o.clock)
      this.#buckets.set(cls, bucket)
    }
    const g = bucket.grant(want)
    this.#local += g.granted
    // The refresh driver counts a grant's TTL from when it asked.
    const ttlMs = this.o.clock.now() - askedAt + LOCAL_TOKEN_TTL_MS
    return { granted: g.granted, ttlMs, retryAfterMs: g.retryAfterMs }
  }
}

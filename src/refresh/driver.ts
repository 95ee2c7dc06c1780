/**
 * Drives a client's waiting refetches through leased tokens: use held tokens
 * first, else lease up to `maxBatch` more; when the budget says wait, sleep
 * `retryAfterMs` stretched by up to 50 % jitter so waiting clients do not all
 * return at once. Works with a synchronous lease (the simulator calls the
 * engine directly) or an asynchronous one (the SDK calls the coordinator).
 */
import type { Clock, Timer } from '../model/clock.js'
import { TokenWallet } from './wallet.js'

export interface LeaseGrant {
  readonly granted: number
  readonly ttlMs: number
  readonly retryAfterMs: number
}

/**
 * Ask for `want` tokens; `ahead` of them are for refetches queued behind the
 * caller's slots (useful within the lease's TTL, not at once): a source of
 * tokens that expire at once (degraded mode's local bucket) grants only the
 * rest.
 */
export type LeaseFn = (want: number, ahead: number) => LeaseGrant | Promise<LeaseGrant>

export interface RefreshDriverOptions {
  readonly clock: Clock
  readonly lease: LeaseFn
  /** Most tokens asked for in one lease. */
  readonly maxBatch: number
  /** Refetches waiting for a token. */
  readonly pending: () => number
  /**
   * Refetches queued behind those (waiting for a slot of the caller's own
   * concurrency, not for a token): the driver asks for tokens for as many
   * of them as it spent tokens over the last lease TTL, so a client that
   * turns tokens over fast leases once per batch, not once per slot freed,
   * and none expires unused beyond what one TTL's pace would spend.
   * @default none (only the pending ones are asked for)
   */
  readonly queued?: () => number
  /** Start `tokens` refetches now, one token each. */
  readonly run: (tokens: number) => void
  /** Uniform [0, 1); seeded in the simulator. @default Math.random */
  readonly random?: () => number
  /** A lease call failed; the driver backs off and retries by itself. */
  readonly onError?: (error: unknown) => void
}

const ERROR_BACKOFF_BASE_MS = 100
const ERROR_BACKOFF_CAP_MS = 5000

export class RefreshDriver {
  readonly wallet: TokenWallet
  #leasing = false
  #timer: Timer | undefined
  #failures = 0
  #closed = false
  #pumping = false

  constructor(private readonly opts: RefreshDriverOptions) {
    this.wallet = new TokenWallet(opts.clock)
  }

  /** True while waiting on a lease answer or a retry timer. */
  get waiting(): boolean {
    return this.#leasing || this.#timer !== undefined
  }

  /** There may be new work or new budget: run what tokens allow. */
  wake(): void {
    if (this.#closed || this.#pumping) return
    this.#pumping = true
    try {
      this.#pump()
    } finally {
      this.#pumping = false
    }
  }

  close(): void {
    this.#closed = true
    this.#timer?.cancel()
    this.#timer = undefined
    this.wallet.clear()
  }

  #pump(): void {
    for (;;) {
      const pending = this.opts.pending()
      if (pending <= 0) return
      const held = this.wallet.take(pending)
      if (held > 0) {
        this.#spent(held)
        this.opts.run(held)
        continue
      }
      if (this.waiting) return
      const askedAt = this.opts.clock.now()
      const ahead = Math.min(this.opts.queued?.() ?? 0, this.#spentWithin(askedAt))
      let answer: LeaseGrant | Promise<LeaseGrant>
      try {
        const want = Math.min(pending + ahead, this.opts.maxBatch)
        answer = this.opts.lease(want, Math.max(0, want - pending))
      } catch (error) {
        this.#failed(error)
        return
      }
      if (answer instanceof Promise) {
        this.#leasing = true
        answer.then(
          (grant) => {
            this.#leasing = false
            if (this.#closed) return
            if (this.#granted(grant, askedAt)) this.wake()
          },
          (error) => {
            this.#leasing = false
            if (!this.#closed) this.#failed(error)
          },
        )
        return
      }
      if (!this.#granted(answer, askedAt)) return
    }
  }

  /** Bank a grant; on an empty grant, sleep. Returns whether to keep pumping. */
  #granted(grant: LeaseGrant, askedAt: number): boolean {
    this.#failures = 0
    this.#ttlMs = grant.ttlMs
    if (grant.granted > 0) {
      this.wallet.add(grant.granted, grant.ttlMs, askedAt)
      return true
    }
    const random = this.opts.random ?? Math.random
    this.#sleep(Math.max(1, grant.retryAfterMs) * (1 + 0.5 * random()))
    return false
  }

  /** Tokens spent, per millisecond they were spent in, over the last lease TTL (a short ring). */
  readonly #spends: { at: number; n: number }[] = []
  #ttlMs = 0

  #spent(n: number): void {
    if (this.opts.queued === undefined) return
    const now = this.opts.clock.now()
    const last = this.#spends.at(-1)
    if (last?.at === now) last.n += n
    else this.#spends.push({ at: now, n })
  }

  /** Tokens spent over the last lease TTL before `now`. */
  #spentWithin(now: number): number {
    if (this.opts.queued === undefined) return 0
    while (this.#spends.length > 0 && this.#spends[0]!.at <= now - this.#ttlMs) this.#spends.shift()
    let n = 0
    for (const s of this.#spends) n += s.n
    return n
  }

  #failed(error: unknown): void {
    this.opts.onError?.(error)
    const random = this.opts.random ?? Math.random
    const cap = Math.min(ERROR_BACKOFF_CAP_MS, ERROR_BACKOFF_BASE_MS * 2 ** this.#failures++)
    this.#sleep(Math.max(1, random() * cap))
  }

  #sleep(ms: number): void {
    this.#timer = this.opts.clock.setTimer(ms, () => {
      this.#timer = undefined
      this.wake()
    })
  }
}

/**
 * Refetch tokens a client holds: leased in small batches from the
 * coordinator's budget (B2), each batch valid for the lease TTL counted from
 * when the lease was *asked for* (the grant happened after that, so the
 * client never uses a token later than the coordinator allowed).
 */
import type { Clock } from '../model/clock.js'

interface Batch {
  count: number
  expiresAt: number
}

export class TokenWallet {
  readonly #batches: Batch[] = []

  constructor(private readonly clock: Clock) {}

  add(count: number, ttlMs: number, askedAt = this.clock.now()): void {
    if (count > 0) this.#batches.push({ count, expiresAt: askedAt + ttlMs })
  }

  /** Unexpired tokens held. */
  available(): number {
    this.#expire()
    let n = 0
    for (const b of this.#batches) n += b.count
    return n
  }

  /** Take up to `n` tokens (oldest batches first); returns how many were taken. */
  take(n: number): number {
    this.#expire()
    let taken = 0
    while (taken < n && this.#batches.length > 0) {
      const b = this.#batches[0]!
      const k = Math.min(b.count, n - taken)
      b.count -= k
      taken += k
      if (b.count === 0) this.#batches.shift()
    }
    return taken
  }

  clear(): void {
    this.#batches.length = 0
  }

  #expire(): void {
    const now = this.clock.now()
    while (this.#batches.length > 0 && this.#batches[0]!.expiresAt <= now) this.#batches.shift()
  }
}

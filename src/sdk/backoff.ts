/**
 * The reconnect policy: full-jitter exponential backoff, `random() ·
 * min(cap, base · 2^attempt)`, from 1 s to a 30 s cap; the count resets once
 * a connection has lasted 60 s. A server's Retry-After wins over it.
 */
export interface BackoffOptions {
  readonly baseMs: number
  readonly capMs: number
  readonly resetAfterMs: number
}

export class Backoff {
  #attempt = 0

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number,
  ) {}

  get attempt(): number {
    return this.#attempt
  }

  /** The next delay (and count the attempt). */
  next(): number {
    const ceiling = Math.min(this.opts.capMs, this.opts.baseMs * 2 ** this.#attempt)
    if (this.opts.baseMs * 2 ** this.#attempt < this.opts.capMs) this.#attempt++
    return this.random() * ceiling
  }

  /** A connection that lasted `ms` ended. */
  connectedFor(ms: number): void {
    if (ms >= this.opts.resetAfterMs) this.#attempt = 0
  }
}

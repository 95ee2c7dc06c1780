/**
 * Refetches caused by changes: ordered by priority (a reader blocked on a
 * hard miss, then stale entries someone asked for, then background refresh
 * and rewarm) through a p-queue per token class, each one taking a leased refetch token right
 * before it calls the origin (B2). Tokens come in small batches from the
 * coordinator, per budget class, through the engine's refresh driver: for
 * the jobs holding a slot, and for as many queued behind them as the class
 * spent tokens over the last lease TTL (one lease per batch, not per slot).
 */
import PQueue from 'p-queue'
import { ClosedError } from '../errors.js'
import type { TokenClass } from '../model/budget.js'
import type { Clock } from '../model/clock.js'
import { type LeaseGrant, RefreshDriver } from '../refresh/driver.js'
import { type RefreshReason, refreshPriority } from '../refresh/priority.js'

/** Waiters for one class's tokens, served first come, first served. */
class TokenGate {
  readonly #waiters: { resolve: () => void; reject: (e: Error) => void }[] = []
  readonly driver: RefreshDriver

  constructor(
    clock: Clock,
    lease: (want: number, ahead: number) => Promise<LeaseGrant>,
    maxBatch: number,
    random: () => number,
    onError: (e: unknown) => void,
    queued: () => number,
  ) {
    this.driver = new RefreshDriver({
      clock,
      lease,
      maxBatch,
      random,
      onError,
      pending: () => this.#waiters.length,
      queued,
      run: (n) => {
        for (const w of this.#waiters.splice(0, n)) w.resolve()
      },
    })
  }

  /** A token, when one comes; an aborted wait gives its place up (and rejects with the signal's reason). */
  acquire(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason)
        return
      }
      const w = { resolve, reject }
      this.#waiters.push(w)
      signal?.addEventListener('abort', () => {
        const i = this.#waiters.indexOf(w)
        if (i >= 0) {
          this.#waiters.splice(i, 1)
          reject(signal.reason)
        }
      })
      this.driver.wake()
    })
  }

  get waiting(): number {
    return this.#waiters.length
  }

  close(): void {
    this.driver.close()
    for (const w of this.#waiters.splice(0)) w.reject(new ClosedError('slew client'))
  }
}

export interface RefresherOptions {
  readonly clock: Clock
  readonly random: () => number
  /** Origin calls in flight at once. */
  readonly concurrency: number
  readonly maxBatch: number
  readonly lease: (want: number, cls: TokenClass, ahead: number) => Promise<LeaseGrant>
  readonly onError: (error: unknown) => void
}

export class Refresher {
  /**
   * One queue per token class: a job holds its slot while it waits for its
   * token, so a long rewarm waiting on a slow rate must not take the slots a
   * hard-miss reader's invalidate token would get through.
   */
  readonly #queues = new Map<TokenClass, PQueue>()
  readonly #gates = new Map<TokenClass, TokenGate>()
  #tokensUsed = 0
  #closed = false

  constructor(private readonly opts: RefresherOptions) {}

  #queue(cls: TokenClass): PQueue {
    let q = this.#queues.get(cls)
    if (!q) {
      q = new PQueue({ concurrency: this.opts.concurrency })
      this.#queues.set(cls, q)
    }
    return q
  }

  /** Tokens spent so far (one per origin call caused by a change). */
  get tokensUsed(): number {
    return this.#tokensUsed
  }

  /** Jobs queued or running. */
  get size(): number {
    let n = 0
    for (const q of this.#queues.values()) n += q.size + q.pending
    return n
  }

  /**
   * Run `job` once a token of `cls` is held, in priority order. `id` lets a
   * queued job be moved up (a reader now waits on it).
   */
  run<T>(
    cls: TokenClass,
    reason: RefreshReason,
    job: () => Promise<T>,
    opts: { id?: string; signal?: AbortSignal; started?: () => void } = {},
  ): Promise<T> {
    return this.#queue(cls).add(
      async () => {
        if (this.#closed) throw new ClosedError('slew client')
        await this.#gate(cls).acquire(opts.signal)
        this.#tokensUsed++
        opts.started?.()
        return job()
      },
      { priority: refreshPriority[reason], ...(opts.id !== undefined && { id: opts.id }) },
    ) as Promise<T>
  }

  /**
   * Like run, for work that may turn out not to be needed: `needed` is asked
   * again just before a token is spent, and a no is free.
   */
  runIfNeeded(
    cls: TokenClass,
    reason: RefreshReason,
    needed: () => boolean,
    job: () => Promise<void>,
    id?: string,
  ): Promise<void> {
    return this.#queue(cls).add(
      async () => {
        if (this.#closed) throw new ClosedError('slew client')
        if (!needed()) return
        await this.#gate(cls).acquire()
        this.#tokensUsed++
        await job()
      },
      { priority: refreshPriority[reason], ...(id !== undefined && { id }) },
    ) as Promise<void>
  }

  /** Move a queued job up (no-op if it already started or is unknown). */
  promote(id: string, reason: RefreshReason): void {
    for (const q of this.#queues.values()) {
      try {
        q.setPriority(id, refreshPriority[reason])
      } catch {
        // Not in this queue, already running, or done.
      }
    }
  }

  /** Resolves when nothing is queued or running. */
  async idle(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((q) => q.onIdle()))
  }

  close(): void {
    this.#closed = true
    for (const q of this.#queues.values()) q.clear()
    for (const g of this.#gates.values()) g.close()
  }

  #gate(cls: TokenClass): TokenGate {
    let g = this.#gates.get(cls)
    if (!g) {
      g = new TokenGate(
        this.opts.clock,
        (want, ahead) => this.opts.lease(want, cls, ahead),
        this.opts.maxBatch,
        this.opts.random,
        this.opts.onError,
        // Jobs waiting for a slot: tokens for them come in the same lease, at the pace spent.
        () => this.#queue(cls).size,
      )
      this.#gates.set(cls, g)
    }
    return g
  }
}

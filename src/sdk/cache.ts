/**
 * The SDK's L1: an lru-cache of entry envelopes under the refresh policy.
 * `get` is single-flight (one origin call per key however many ask),
 * serves stale while a refresh waits for a token (stale-while-revalidate),
 * keeps the stale value when the origin fails (stale-if-error), and makes a
 * reader of a hard-invalidated key wait for a token before the origin.
 * Errors never invalidate anything.
 */
import { LRUCache } from 'lru-cache'
import { ClosedError, OverBudgetError } from '../errors.js'
import type { TokenClass } from '../model/budget.js'
import type { Change } from '../model/change.js'
import {
  beginRefresh,
  completeRefresh,
  type Entry,
  failRefresh,
  invalidateEntry,
  needsRefresh,
  servable,
} from '../refresh/entry.js'
import { matchesTarget } from '../refresh/match.js'
import type { RefreshReason } from '../refresh/priority.js'
import type { Refresher } from './refresher.js'

export type Envelope<V> = Entry<V> & {
  cls: TokenClass
  /** The value as a settled promise, made with the value, so a fresh hit allocates nothing. */
  settled: Promise<V>
}

const NO_TAGS: readonly string[] = Object.freeze([])
const noop = () => {}

/** One object literal with every field: all envelopes share one hidden class, so reads stay fast. */
const envelope = <V>(value: V, tags: readonly string[]): Envelope<V> => ({
  value,
  hasValue: true,
  state: 'fresh',
  tags,
  gen: 0,
  valueGen: 0,
  invalidatedBy: undefined,
  refreshGen: undefined,
  cls: 'invalidate',
  settled: Promise.resolve(value),
})

export interface L1Options<V> {
  readonly max: number
  readonly ttlMs?: number
  readonly load: (key: string) => Promise<V>
  readonly refresher: Refresher
  /** Every origin call: how long it took and whether it worked. */
  readonly observe: (ms: number, ok: boolean) => void
  readonly now: () => number
  /** Refetch invalidated entries in the background, not only when read. @default true */
  readonly background: boolean
  /** A hard-miss reader waits this long for a token, then onOverBudget decides. */
  readonly maxWaitMs?: number
  readonly onOverBudget: 'fail' | ((key: string) => V | Promise<V>)
}

export class L1<V> {
  readonly lru: LRUCache<string, Envelope<V>>
  readonly #inflight = new Map<string, { promise: Promise<V>; reject: (e: Error) => void }>()
  /** Keys with a background refresh queued (p-queue job id = key). */
  readonly #queued = new Set<string>()
  /** Rewarms waiting for a refetch another change started on the key to end. */
  readonly #onRefetched = new Map<string, (() => void)[]>()
  #closed = false

  constructor(private readonly opts: L1Options<V>) {
    this.lru = new LRUCache<string, Envelope<V>>({
      max: opts.max,
      ...(opts.ttlMs && { ttl: opts.ttlMs }),
    })
  }

  get size(): number {
    return this.lru.size
  }

  /** Not `async`: a fresh hit hands back one settled promise kept on the entry, with no allocation. */
  get(key: string, tags: readonly string[] = NO_TAGS): Promise<V> {
    if (this.#closed) return Promise.reject(new ClosedError('slew client'))
    const e = this.lru.get(key)
    if (e !== undefined && e.state === 'fresh') return e.settled
    if (e && servable(e)) {
      this.#refresh(key, e, 'softRefresh')
      return Promise.resolve(e.value as V)
    }
    const flying = this.#inflight.get(key)
    if (flying) return flying.promise
    let reject!: (e: Error) => void
    const promise = new Promise<V>((res, rej) => {
      reject = rej
      ;(e ? this.#hardMiss(key, e) : this.#coldMiss(key, tags)).then(res, rej)
    }).finally(() => this.#inflight.delete(key))
    this.#inflight.set(key, { promise, reject })
    return promise
  }

  /** Put a value in as fresh (what a load returned, or a user's write). */
  set(key: string, value: V, tags: readonly string[] = NO_TAGS): void {
    this.lru.set(key, envelope(value, tags))
  }

  delete(key: string): boolean {
    return this.lru.delete(key)
  }

  /**
   * Read without loading (for store adapters): the value if it may be served
   * (fresh, or stale — then its refetch is queued, under a token), else
   * undefined (missing, or hard-invalidated).
   */
  peek(key: string): { value: V; state: 'fresh' | 'stale' | 'refreshing' } | undefined {
    const e = this.lru.get(key)
    if (!e || !servable(e)) return undefined
    if (e.state !== 'fresh') this.#refresh(key, e, 'softRefresh')
    return { value: e.value as V, state: e.state as 'fresh' | 'stale' | 'refreshing' }
  }

  clear(): void {
    this.lru.clear()
  }

  /** Keys an invalidation touches, most recently used first. */
  matching(change: Pick<Change, 'target'>): string[] {
    const t = change.target
    if (!t) return []
    if (!t.all && !t.tags?.length && !t.prefixes?.length)
      return (t.keys ?? []).filter((k) => this.lru.has(k))
    const out: string[] = []
    for (const [key, e] of this.lru.entries()) if (matchesTarget(t, key, e.tags)) out.push(key)
    return out
  }

  /** Apply one invalidation to `keys`; queue their refetches in the background. */
  invalidate(
    keys: readonly string[],
    changeId: string,
    mode: 'soft' | 'hard',
    cls: TokenClass,
  ): void {
    for (const key of keys) {
      const e = this.lru.peek(key)
      if (!e) continue
      invalidateEntry(e, changeId, mode)
      e.cls = cls
      if (this.opts.background) this.#refresh(key, e, 'rewarm')
    }
  }

  /**
   * The content of `keys` changed (a listed rewarm): those held turn stale,
   * still served, and their refetch goes under `cls` tokens. No refetch is
   * queued here: the rewarm fetches them in its order (a reader moves one up).
   */
  markStale(keys: readonly string[], changeId: string, cls: TokenClass): void {
    for (const key of keys) {
      const e = this.lru.peek(key)
      if (!e) continue
      invalidateEntry(e, changeId, 'soft')
      e.cls = cls
    }
  }

  /**
   * Fetch `keys` ahead of readers, in the order given (hottest first), each
   * under a rewarm token; a key already fresh costs nothing. `settled(ok)` is
   * called once per key: fetched (or already fresh), or failed. A key whose
   * refetch another change started is settled by that refetch: ok only if
   * the key is fresh once it ends.
   */
  rewarm(keys: readonly string[], settled: (ok: boolean) => void = () => {}): void {
    for (const key of keys) {
      if (this.lru.peek(key)?.state === 'fresh') {
        settled(true)
        continue
      }
      let gen = -1
      let entry: Envelope<V> | undefined
      let waited = false
      this.opts.refresher
        .runIfNeeded(
          'rewarm',
          'rewarm',
          () => {
            const e = this.lru.peek(key)
            if (e?.state === 'fresh') return false
            if (e) {
              if (!needsRefresh(e)) {
                // Another refetch has it: its outcome is ours (no second origin call).
                this.#afterRefetch(key, () => settled(this.lru.peek(key)?.state === 'fresh'))
                waited = true
                return false
              }
              gen = beginRefresh(e)
              entry = e
            }
            return true
          },
          async () => {
            if (entry) await this.#refetch(key, entry, gen)
            else {
              const value = await this.#timed(key)
              if (!this.lru.has(key)) this.set(key, value)
            }
          },
          `rewarm:${key}`,
        )
        .then(
          () => {
            if (!waited) settled(true)
          },
          () => settled(false),
        )
    }
  }

  close(): void {
    this.#closed = true
    this.#onRefetched.clear()
    this.lru.clear()
    for (const f of this.#inflight.values()) f.reject(new ClosedError('slew client'))
    this.#inflight.clear()
  }

  /** A miss not caused by a change: normal traffic, no token. */
  async #coldMiss(key: string, tags: readonly string[]): Promise<V> {
    const value = await this.#timed(key)
    if (!this.#closed) this.set(key, value, tags)
    return value
  }

  /** A hard-invalidated key: the reader waits for a token, ahead of everything else. */
  #hardMiss(key: string, e: Envelope<V>): Promise<V> {
    const ac = new AbortController()
    let timer: NodeJS.Timeout | undefined
    const work = this.opts.refresher.run(
      e.cls,
      'hardMiss',
      async () => {
        const value = await this.#refetch(key, e, beginRefresh(e))
        if (this.lru.peek(key) !== e) this.lru.set(key, e)
        return value
      },
      // The wait for a token is what maxWaitMs limits; once the fetch starts it runs.
      { signal: ac.signal, started: () => clearTimeout(timer) },
    )
    const limit = this.opts.maxWaitMs
    if (limit === undefined) return work
    return new Promise<V>((resolve, reject) => {
      timer = setTimeout(() => {
        ac.abort(new OverBudgetError(key, limit))
        const fallback = this.opts.onOverBudget
        if (fallback === 'fail') reject(new OverBudgetError(key, limit))
        // A fallback that throws (or rejects) fails this read, never the process.
        else new Promise<V>((r) => r(fallback(key))).then(resolve, reject)
      }, limit)
      work.then(
        (v) => {
          clearTimeout(timer)
          resolve(v)
        },
        (err) => {
          clearTimeout(timer)
          if (!ac.signal.aborted) reject(err)
        },
      )
    })
  }

  /** Queue one refetch of a stale or dead entry (or move a queued one up). */
  #refresh(key: string, e: Envelope<V>, reason: RefreshReason, cls: TokenClass = e.cls): void {
    if (this.#queued.has(key)) {
      this.opts.refresher.promote(key, reason)
      return
    }
    if (!needsRefresh(e)) return
    this.#queued.add(key)
    let gen = -1
    this.opts.refresher
      .runIfNeeded(
        cls,
        reason,
        () => {
          // Started: a later invalidation may queue the next refetch.
          this.#queued.delete(key)
          if (!needsRefresh(e) || this.lru.peek(key) !== e) return false
          // Claimed now, before waiting for the token: a reader meanwhile must not queue a second.
          gen = beginRefresh(e)
          return true
        },
        // stale-if-error: a failed refetch keeps serving what we had.
        () => this.#refetch(key, e, gen).then(noop, noop),
        key,
      )
      .catch(() => this.#queued.delete(key))
  }

  /**
   * The origin call of a refetch claimed as generation `gen` of entry `e`:
   * the value lands in the entry (or the entry goes back to stale), and
   * whoever waits for this key's refetch hears it ended.
   */
  async #refetch(key: string, e: Envelope<V>, gen: number): Promise<V> {
    try {
      const value = await this.#timed(key)
      completeRefresh(e, gen, value)
      e.settled = Promise.resolve(e.value as V)
      return value
    } catch (error) {
      failRefresh(e, gen)
      throw error
    } finally {
      this.#refetched(key)
    }
  }

  /** Call `then` when the refetch in flight on `key` ends (landed or failed). */
  #afterRefetch(key: string, then: () => void): void {
    const waiting = this.#onRefetched.get(key)
    if (waiting) waiting.push(then)
    else this.#onRefetched.set(key, [then])
  }

  #refetched(key: string): void {
    const waiting = this.#onRefetched.get(key)
    if (!waiting) return
    this.#onRefetched.delete(key)
    for (const then of waiting) then()
  }

  async #timed(key: string): Promise<V> {
    const started = this.opts.now()
    try {
      const value = await this.opts.load(key)
      this.opts.observe(this.opts.now() - started, true)
      return value
    } catch (error) {
      this.opts.observe(this.opts.now() - started, false)
      throw error
    }
  }
}

/**
 * The SDK's L1: an lru-cache of entries (slot.ts) under the refresh policy.
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
  failRefresh,
  invalidateEntry,
  needsRefresh,
  servable,
} from '../refresh/entry.js'
import { matchesTarget } from '../refresh/match.js'
import type { RefreshReason } from '../refresh/priority.js'
import type { Refresher } from './refresher.js'
import {
  type Fresh,
  fresh,
  freshValue,
  isFresh,
  landed,
  NO_TAGS,
  Slot,
  settle,
  Touched,
  tagSets,
  touch,
} from './slot.js'

const noop = () => {}

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
  /** A key went into the cache (key sketches report it). */
  readonly added?: (key: string) => void
}

export class L1<V> {
  /** One `Slot` per key (read as an `Entry` through its getters). */
  readonly lru: LRUCache<string, Slot<V>>
  readonly #intern = tagSets()
  readonly #inflight = new Map<string, { promise: Promise<V>; reject: (e: Error) => void }>()
  /** Keys with a background refresh queued (p-queue job id = key). */
  readonly #queued = new Set<string>()
  /** Rewarms waiting for a refetch another change started on the key to end. */
  readonly #onRefetched = new Map<string, (() => void)[]>()
  #closed = false

  constructor(private readonly opts: L1Options<V>) {
    this.lru = new LRUCache<string, Slot<V>>({
      max: opts.max,
      ...(opts.ttlMs && { ttl: opts.ttlMs }),
    })
  }

  get size(): number {
    return this.lru.size
  }

  /**
   * Not `async`: a fresh hit hands back one settled promise kept on the entry
   * (made on its first read), with no allocation.
   */
  get(key: string, tags: readonly string[] = NO_TAGS): Promise<V> {
    if (this.#closed) return Promise.reject(new ClosedError('slew client'))
    const s = this.lru.get(key)
    const e = s?.held
    if (s !== undefined && !(e instanceof Touched)) return settle(s, e as V | Fresh<V>)
    if (e instanceof Touched && servable(e)) {
      this.#refresh(key, s!, 'softRefresh')
      return Promise.resolve(e.value as V)
    }
    const flying = this.#inflight.get(key)
    if (flying) return flying.promise
    let reject!: (e: Error) => void
    const promise = new Promise<V>((res, rej) => {
      reject = rej
      ;(e instanceof Touched ? this.#hardMiss(key, s!, e) : this.#coldMiss(key, tags)).then(
        res,
        rej,
      )
    }).finally(() => this.#inflight.delete(key))
    this.#inflight.set(key, { promise, reject })
    return promise
  }

  /** Put a value in as fresh (what a load returned, or a user's write). */
  set(key: string, value: V, tags: readonly string[] = NO_TAGS): void {
    this.lru.set(key, new Slot(fresh(value, this.#intern(tags))))
    this.opts.added?.(key)
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
    const s = this.lru.get(key)
    if (s === undefined) return undefined
    const e = s.held
    if (!(e instanceof Touched)) return { value: freshValue(e), state: 'fresh' }
    if (!servable(e)) return undefined
    this.#refresh(key, s, 'softRefresh')
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
    for (const [key, s] of this.lru.entries()) if (matchesTarget(t, key, s.tags)) out.push(key)
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
      const s = this.lru.peek(key)
      if (!s) continue
      const e = touch(s)
      invalidateEntry(e, changeId, mode)
      e.cls = cls
      if (this.opts.background) this.#refresh(key, s, 'rewarm')
    }
  }

  /**
   * The content of `keys` changed (a listed rewarm): those held turn stale,
   * still served, and their refetch goes under `cls` tokens. No refetch is
   * queued here: the rewarm fetches them in its order (a reader moves one up).
   */
  markStale(keys: readonly string[], changeId: string, cls: TokenClass): void {
    for (const key of keys) {
      const s = this.lru.peek(key)
      if (!s) continue
      const e = touch(s)
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
      if (isFresh(this.lru.peek(key))) {
        settled(true)
        continue
      }
      let gen = -1
      let slot: Slot<V> | undefined
      let entry: Touched<V> | undefined
      let waited = false
      this.opts.refresher
        .runIfNeeded(
          'rewarm',
          'rewarm',
          () => {
            const s = this.lru.peek(key)
            if (s === undefined) return true
            const e = s.held
            if (!(e instanceof Touched) || e.state === 'fresh') return false
            if (!needsRefresh(e)) {
              // Another refetch has it: its outcome is ours (no second origin call).
              this.#afterRefetch(key, () => settled(isFresh(this.lru.peek(key))))
              waited = true
              return false
            }
            gen = beginRefresh(e)
            slot = s
            entry = e
            return true
          },
          async () => {
            if (slot && entry) await this.#refetch(key, slot, entry, gen)
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
  #hardMiss(key: string, s: Slot<V>, dead: Touched<V>): Promise<V> {
    const ac = new AbortController()
    let timer: NodeJS.Timeout | undefined
    const work = this.opts.refresher.run(
      dead.cls,
      'hardMiss',
      async () => {
        // The entry as it is now (another refetch may have landed, another change touched it).
        const e = touch(s)
        const value = await this.#refetch(key, s, e, beginRefresh(e))
        if (this.lru.peek(key) !== s) {
          this.lru.set(key, s)
          this.opts.added?.(key)
        }
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
  #refresh(key: string, s: Slot<V>, reason: RefreshReason): void {
    if (this.#queued.has(key)) {
      this.opts.refresher.promote(key, reason)
      return
    }
    const e = s.held
    if (!(e instanceof Touched) || !needsRefresh(e)) return
    this.#queued.add(key)
    let claimed = e
    let gen = -1
    this.opts.refresher
      .runIfNeeded(
        e.cls,
        reason,
        () => {
          // Started: a later invalidation may queue the next refetch.
          this.#queued.delete(key)
          // The slot's entry now: a refetch that landed meanwhile puts a fresh form back.
          const now = s.held
          if (this.lru.peek(key) !== s || !(now instanceof Touched) || !needsRefresh(now))
            return false
          // Claimed now, before waiting for the token: a reader meanwhile must not queue a second.
          claimed = now
          gen = beginRefresh(now)
          return true
        },
        // stale-if-error: a failed refetch keeps serving what we had.
        () => this.#refetch(key, s, claimed, gen).then(noop, noop),
        key,
      )
      .catch(() => this.#queued.delete(key))
  }

  /**
   * The origin call of a refetch claimed as generation `gen` of entry `e`
   * (held by slot `s`): the value lands in the entry (fresh: the slot keeps
   * only its fresh form; or the entry goes back to stale), and whoever waits
   * for this key's refetch hears it ended.
   */
  async #refetch(key: string, s: Slot<V>, e: Touched<V>, gen: number): Promise<V> {
    try {
      const value = await this.#timed(key)
      completeRefresh(e, gen, value)
      return value
    } catch (error) {
      failRefresh(e, gen)
      throw error
    } finally {
      landed(s, e)
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

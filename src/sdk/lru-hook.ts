/**
 * attachLruCache: apply the changes a slew client receives to an lru-cache
 * (v11) instance the app already has.
 */
import type { LRUCache } from 'lru-cache'
import { InvalidOptionError } from '../errors.js'
import type { Change, Target } from '../model/change.js'
import { matchesTarget } from '../refresh/match.js'
import type { SlewClient } from './client.js'

export interface AttachLruOptions<V> {
  /**
   * Tags of a cached entry, for tag targets.
   * @default () => [] (no tags: tag-only invalidations touch nothing in this cache)
   */
  readonly tagsOf?: (key: string, value: V) => readonly string[]
  /**
   * Refetches a rewarm change may run at once (only for a cache with a `fetchMethod`).
   * @default 4
   */
  readonly rewarmConcurrency?: number
}

/**
 * Keep `cache` in step with the changes `client` receives. Returns `detach()`.
 *
 * - Hard invalidation: `cache.delete(key)` for every matching key (which also
 *   aborts a `fetch` in flight for it).
 * - Soft invalidation: lru-cache has no "mark stale" call, so the entry is
 *   set again, same value, with a TTL that has already run out. A cache built
 *   with `allowStale: true` then keeps serving the value as stale: `fetch`
 *   (with a `fetchMethod`) returns it while it refetches —
 *   stale-while-revalidate; `peek` returns it; `has` says false; `get`
 *   returns it, and drops it unless the cache has `noDeleteOnStaleGet`.
 *   Without `allowStale`, or with `ttlAutopurge` (which would drop it a
 *   moment later), a stale entry could never be served, so soft deletes
 *   too. The re-set counts as a use for recency and calls `onInsert`
 *   ('update').
 * - A `reset` (the client's gap is gone from the coordinator's log) marks
 *   every entry stale, like a soft invalidate-all. It never flushes: a cache
 *   that cannot serve stale (see above) keeps its entries as they are, even
 *   though they may have missed changes in the lost gap, until they expire
 *   or are replaced.
 * - Rewarm: with a `fetchMethod`, the named keys (or, for `hotSet`, every
 *   key held) are fetched with `forceRefresh` (and no `context`),
 *   `rewarmConcurrency` at a time; without one, nothing (this cache cannot
 *   load). Config changes are ignored.
 *
 * Refetches in this cache are the cache's own (its `fetchMethod`, or your
 * code on a miss): they spend no slew refetch token, so only the wave pacing
 * of deliveries bounds them, and the client's `guard.maxStalePerMinute` does
 * not apply here. Changes are applied when the client emits them.
 */
export const attachLruCache = <C, V extends {}, FC = unknown>(
  client: SlewClient<C>,
  cache: LRUCache<string, V, FC>,
  opts: AttachLruOptions<V> = {},
): (() => void) => {
  // A sketch tells the coordinator what the client's own cache holds, not this one: changes to
  // keys only this cache holds would be skipped.
  if (client.options.keySketch) {
    throw new InvalidOptionError(
      'keySketch',
      'off on a client whose changes attachLruCache applies to another cache',
      client.options.keySketch,
    )
  }
  const tagsOf = opts.tagsOf ?? (() => [])
  const concurrency = Math.max(1, Math.floor(opts.rewarmConcurrency ?? 4))
  const onChange = (c: Change): void => {
    if (!c.target || c.kind === 'config') return
    if (c.kind === 'rewarm') {
      if (!cache.fetchMethod) return
      const keys = c.target.hotSet ? [...cache.keys()] : (c.target.keys ?? [])
      void rewarm(cache, keys, concurrency)
      return
    }
    for (const key of matching(cache, c.target, tagsOf)) {
      if (c.mode === 'hard') cache.delete(key)
      else markStale(cache, key)
    }
  }
  const onReset = (): void => {
    if (!servesStale(cache)) return
    for (const key of [...cache.keys()]) markStale(cache, key)
  }
  client.on('change', onChange)
  client.on('reset', onReset)
  return () => {
    client.off('change', onChange)
    client.off('reset', onReset)
  }
}

/** Keys of `cache` a target touches; named keys always (a fetch may be in flight for one). */
const matching = <V extends {}, FC>(
  cache: LRUCache<string, V, FC>,
  target: Target,
  tagsOf: (key: string, value: V) => readonly string[],
): string[] => {
  const out = new Set(target.keys ?? [])
  if (target.all || target.tags?.length || target.prefixes?.length) {
    cache.forEach((value, key) => {
      if (matchesTarget(target, key, tagsOf(key, value))) out.add(key)
    })
  }
  return [...out]
}

/** Can a stale entry of `cache` be read (rather than dropped unseen)? */
const servesStale = <V extends {}, FC>(cache: LRUCache<string, V, FC>): boolean =>
  cache.allowStale && !cache.ttlAutopurge

/** Make `key` stale but servable (see attachLruCache); delete it where that cannot be done. */
const markStale = <V extends {}, FC>(cache: LRUCache<string, V, FC>, key: string): void => {
  const value = cache.peek(key, { allowStale: true })
  // lru-cache compares against a clock reading it may reuse for ttlResolution ms.
  const start = cache.perf.now() - cache.ttlResolution - 2
  if (value === undefined || !servesStale(cache) || start <= 0) {
    cache.delete(key)
    return
  }
  const size = cache.info(key)?.size
  cache.set(key, value, { ttl: 1, start, noUpdateTTL: false, ...(size && { size }) })
  // Never leave it fresh: if it did not go stale, drop it.
  if (cache.has(key)) cache.delete(key)
}

const rewarm = async <V extends {}, FC>(
  cache: LRUCache<string, V, FC>,
  keys: readonly string[],
  concurrency: number,
): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!
      // Called with no context. An origin error changes nothing: the cache keeps what it had.
      await (cache as LRUCache<string, V>).fetch(key, { forceRefresh: true }).catch(() => {})
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker))
}

/**
 * slewKeyvStore: a Keyv 5 store adapter over a slew client's L1 cache, so
 * that what Keyv users cache follows slew's invalidations (soft: served
 * stale while it refreshes under a token; hard: gone).
 */
import { EventEmitter } from 'node:events'
import { servable } from '../refresh/entry.js'
import type { L1 } from './cache.js'
import type { SlewClient } from './client.js'

export interface SlewKeyvStoreOptions<V> {
  /**
   * Tags stored with an entry, for slew's tag invalidations. `key` is the key
   * Keyv hands the store (namespaced: `keyv:user:1`), `value` what Keyv hands
   * it (with Keyv's default serializer, a string).
   * @default () => [] (no tags: only keys, prefixes and `all` reach these entries)
   */
  readonly tagsOf?: (key: string, value: V) => readonly string[]
}

/**
 * A Keyv 5 store (`KeyvStoreAdapter`) whose entries live in `client.cache`.
 *
 * - `get` answers only while slew may serve the entry: fresh, or stale after
 *   a soft invalidation — then a background refetch is queued under a refetch
 *   token. A hard-invalidated, expired or missing entry reads as `undefined`.
 * - A stale entry is refetched by the client's own `load`, called with the
 *   key Keyv hands the store, namespace included (`keyv:user:1` for
 *   `new Keyv({ store, namespace: 'keyv' }).get('user:1')`). What `load`
 *   resolves to replaces the stored value, so it must be something Keyv can
 *   read: a string in the format of Keyv's serializer, or an object
 *   `{ value, expires? }`, which Keyv takes as already deserialized.
 * - `set` stores the value as fresh; a `ttl` (ms) expires the entry in the
 *   store too (and Keyv checks the `expires` it serialized alongside).
 * - `clear` removes this store's namespace only (the keys Keyv prefixed with
 *   `<namespace>:`); with no namespace, every entry of the client's cache.
 *
 * Origin errors of background refetches keep the stale value and go to the
 * client's `'error'` event; the store itself emits none.
 */
export class SlewKeyvStore<V = unknown> extends EventEmitter {
  /** Keyv reads this; the suite and some serializers write to it. */
  opts: Record<string, unknown> = { dialect: 'slew' }
  /** Set by Keyv to its own namespace. */
  namespace: string | undefined
  readonly #l1: L1<V>
  readonly #tagsOf: (key: string, value: V) => readonly string[]

  constructor(client: SlewClient<V>, opts: SlewKeyvStoreOptions<V> = {}) {
    super()
    this.#l1 = client.cache
    this.#tagsOf = opts.tagsOf ?? (() => [])
  }

  /** `T`: the type Keyv asks for (its adapter type is generic here); the value is what was stored. */
  async get<T = V>(key: string): Promise<T | undefined> {
    return this.#l1.peek(key)?.value as T | undefined
  }

  async getMany<T = V>(keys: string[]): Promise<Array<T | undefined>> {
    return keys.map((k) => this.#l1.peek(k)?.value as T | undefined)
  }

  async set(key: string, value: V, ttl?: number): Promise<boolean> {
    this.#l1.set(key, value, this.#tagsOf(key, value))
    if (typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0) {
      // Re-set the same envelope with its own lifetime (never longer than the client's).
      const lru = this.#l1.lru
      lru.set(key, lru.peek(key)!, { ttl: lru.ttl > 0 ? Math.min(lru.ttl, ttl) : ttl })
    }
    return true
  }

  /** Does `get` have a value for `key`? (Queues no refetch.) */
  async has(key: string): Promise<boolean> {
    return this.#holds(key)
  }

  /** True if a value `get` would have served was removed. */
  async delete(key: string): Promise<boolean> {
    const held = this.#holds(key)
    this.#l1.delete(key)
    return held
  }

  /** True if every key held a value. */
  async deleteMany(keys: string[]): Promise<boolean> {
    let all = true
    for (const key of keys) if (!(await this.delete(key))) all = false
    return all
  }

  async clear(): Promise<void> {
    if (this.namespace === undefined) {
      this.#l1.clear()
      return
    }
    const prefix = `${this.namespace}:`
    for (const key of [...this.#l1.lru.keys()]) if (key.startsWith(prefix)) this.#l1.delete(key)
  }

  #holds(key: string): boolean {
    const e = this.#l1.lru.peek(key)
    return e !== undefined && servable(e)
  }
}

/** A Keyv 5 store backed by `client.cache`: `new Keyv({ store: slewKeyvStore(client) })`. */
export const slewKeyvStore = <V>(
  client: SlewClient<V>,
  opts: SlewKeyvStoreOptions<V> = {},
): SlewKeyvStore<V> => new SlewKeyvStore<V>(client, opts)

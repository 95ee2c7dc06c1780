/**
 * Which clients may hold a key: each client's key sketch (a Bloom filter of
 * its cache, sketch.ts) and the keys it cached since, as its heartbeats
 * report them. A change to keys only (an invalidate naming `keys` and
 * nothing else) skips a client whose sketch is fresh and holds none of
 * them; every other change, and every client whose sketch is unknown or
 * stale (older than `staleMs`), goes as before.
 *
 * A holder is never skipped for good. A key the client cached after the
 * sketch a skip was decided on is in the `added` list of its next update,
 * and every update looks its added keys up among the skips of the last
 * `windowMs`: a skipped change to one of them is queued for the client then
 * (paced and charged like any delivery). So skipping adds at most one
 * update interval of staleness. A client whose previous update is older
 * than the window may have missed skips already forgotten: the update says
 * `lost`, and the caller marks the client's whole cache stale (a reset),
 * as a client whose resume point left the log is.
 */
import type { Clock } from '../model/clock.js'
import type { Rollout } from './rollout.js'
import { type KeySketch, keyHashes, mayHoldHashed } from './sketch.js'

export interface SketchSettings {
  /** A sketch older than this is not used: the client gets every change. */
  readonly staleMs: number
  /** Skips looked up for replay this long; an update after a longer silence is `lost`. */
  readonly windowMs: number
}

export const defaultSketchSettings: SketchSettings = { staleMs: 30_000, windowMs: 120_000 }

interface ClientSketch {
  filter: KeySketch | undefined
  /** Keys reported added since the filter (exact). */
  readonly extra: Set<string>
  /** When it was last updated (filter or added keys). */
  at: number
}

/** A keys-only rollout that has skipped someone: its keys' hashes, and when it last skipped. */
interface Skipping {
  readonly rollout: Rollout
  readonly hashes: readonly (readonly [number, number])[]
  lastSkipAt: number
}

export interface SketchUpdate {
  /** The Bloom filter of everything the client holds now; absent: keep the last one. */
  readonly filter?: KeySketch
  /**
   * Keys the client cached since its previous update (all of them). Absent
   * (it did not keep them): a filter is required, and every skip of the
   * window is probed against it instead.
   */
  readonly added?: readonly string[]
}

export interface SketchResult {
  /** Rollouts the client was skipped by and may hold a key of: queue it for them. */
  readonly replay: readonly Rollout[]
  /** Its previous update is older than the window: skips it may have missed are forgotten. */
  readonly lost: boolean
}

/** The most keys a change may name and still be sketched (each is probed in every client's filter). */
export const MAX_SKETCHED_KEYS = 64

/** The keys a change names, if it names nothing else and not too many (only such a change is sketched). */
export const sketchedKeys = (r: Rollout): readonly string[] | undefined => {
  const c = r.change
  const t = c.target
  if (c.kind !== 'invalidate' || !t?.keys || t.keys.length === 0) return undefined
  if (t.keys.length > MAX_SKETCHED_KEYS) return undefined
  if (t.all || t.hotSet || (t.tags?.length ?? 0) > 0 || (t.prefixes?.length ?? 0) > 0) {
    return undefined
  }
  return t.keys
}

export class Sketches {
  readonly #clients = new Map<string, ClientSketch>()
  /** Rollouts that skipped someone, by key; and in the order they last skipped (for pruning). */
  readonly #byKey = new Map<string, Set<Skipping>>()
  readonly #skipping = new Map<Rollout, Skipping>()
  readonly #hashed = new WeakMap<Rollout, Skipping['hashes']>()
  #skips = 0
  #prunedAt = Number.NEGATIVE_INFINITY
  /** Skipped deliveries queued again for a client that reported a key added (counted by the engine). */
  replayed = 0

  constructor(
    private readonly clock: Clock,
    public settings: SketchSettings = defaultSketchSettings,
  ) {}

  /** Deliveries skipped so far, and replayed after a later update. */
  get counts(): { skipped: number; replayed: number; clients: number } {
    return { skipped: this.#skips, replayed: this.replayed, clients: this.#clients.size }
  }

  /**
   * Does `clientId` skip `r`? True only for a keys-only change and a fresh
   * sketch holding none of its keys; the skip is remembered for replay.
   */
  skips(r: Rollout, clientId: string): boolean {
    const s = this.#clients.get(clientId)
    if (!s?.filter) return false
    const now = this.clock.now()
    if (now - s.at > this.settings.staleMs) return false
    const keys = sketchedKeys(r)
    if (!keys) return false
    const hashes = this.#hashes(r, keys)
    for (let i = 0; i < keys.length; i++) {
      if (s.extra.has(keys[i]!) || mayHoldHashed(s.filter, hashes[i]!)) return false
    }
    this.#touch(r, keys, hashes, now)
    this.#skips++
    return true
  }

  /** A client's update (with its heartbeat): what to replay to it, or that it is lost. */
  update(clientId: string, u: SketchUpdate): SketchResult {
    const now = this.clock.now()
    this.#prune(now)
    // Nothing to go on: not an update (its time is not refreshed).
    if (!u.filter && u.added === undefined) return { replay: [], lost: false }
    const prev = this.#clients.get(clientId)
    const lost = prev !== undefined && now - prev.at > this.settings.windowMs
    const s: ClientSketch = prev ?? { filter: undefined, extra: new Set(), at: now }
    if (u.filter) {
      s.filter = u.filter
      s.extra.clear()
    }
    const replay = new Set<Rollout>()
    if (prev !== undefined && !lost) {
      if (u.added !== undefined) {
        for (const key of u.added) for (const e of this.#byKey.get(key) ?? []) replay.add(e.rollout)
      } else if (u.filter) {
        const filter = u.filter
        for (const e of this.#skipping.values()) {
          if (e.hashes.some((h) => mayHoldHashed(filter, h))) replay.add(e.rollout)
        }
      }
    }
    // Kept exactly until the next filter, which holds them all (no filter yet: nothing is skipped).
    if (s.filter && !u.filter) for (const key of u.added ?? []) s.extra.add(key)
    s.at = now
    this.#clients.set(clientId, s)
    return { replay: [...replay], lost }
  }

  /** Does the client have a filter here that is in use (not stale)? If not, ask for one. */
  known(clientId: string): boolean {
    const s = this.#clients.get(clientId)
    return s?.filter !== undefined && this.clock.now() - s.at <= this.settings.staleMs
  }

  /** Forget a client (it left for good, or its cache is gone). */
  forget(clientId: string): void {
    this.#clients.delete(clientId)
  }

  /** The keys' hashes, once per rollout however many clients it is checked for. */
  #hashes(r: Rollout, keys: readonly string[]): readonly (readonly [number, number])[] {
    let h = this.#hashed.get(r)
    if (!h) {
      h = keys.map(keyHashes)
      this.#hashed.set(r, h)
    }
    return h
  }

  /** Remember that `r` skipped someone now; the index keeps the latest skip last. */
  #touch(r: Rollout, keys: readonly string[], hashes: Skipping['hashes'], now: number): void {
    let e = this.#skipping.get(r)
    // Already the latest skip (the rest of this wave start): nothing moves.
    if (e?.lastSkipAt === now) return
    if (e) this.#skipping.delete(r)
    else {
      e = { rollout: r, hashes, lastSkipAt: now }
      for (const key of keys) {
        let set = this.#byKey.get(key)
        if (!set) {
          set = new Set()
          this.#byKey.set(key, set)
        }
        set.add(e)
      }
    }
    e.lastSkipAt = now
    this.#skipping.set(r, e)
  }

  #prune(now: number): void {
    // A client silent past the window: its filter goes (its time stays, to tell it is lost).
    if (now - this.#prunedAt > this.settings.windowMs / 4) {
      this.#prunedAt = now
      for (const s of this.#clients.values()) {
        if (s.filter && now - s.at > this.settings.windowMs) {
          s.filter = undefined
          s.extra.clear()
        }
      }
    }
    for (const [r, e] of this.#skipping) {
      if (now - e.lastSkipAt <= this.settings.windowMs) return
      this.#skipping.delete(r)
      for (const key of sketchedKeys(r) ?? []) {
        const set = this.#byKey.get(key)
        set?.delete(e)
        if (set?.size === 0) this.#byKey.delete(key)
      }
    }
  }
}

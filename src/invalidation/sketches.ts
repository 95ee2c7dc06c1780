/**
 * Which clients may hold a key: each client's key sketch (a Bloom filter of
 * its cache, sketch.ts) and the keys it cached since, as its heartbeats
 * report them. A change to keys only (an invalidate naming `keys` and
 * nothing else) skips a client whose sketch is fresh and holds none of
 * them; every other change, and every client whose sketch is unknown or
 * stale (older than `staleMs`), goes as before.
 *
 * No pass over the fleet: the filters live in a bit-sliced index per
 * shape (sketch-index.ts) where a key's possible holders are a few word
 * reads per 32 clients, and the registry is told which clients have a
 * fresh sketch, so it keeps the rest (its plain live clients) apart. A
 * wave start sends to the plain clients and to the index's holders, and
 * counts the other sketched clients as skipped. Filters leave use in the
 * order they were updated, so finding the stale ones stops at the first
 * fresh one.
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
import { keysOnly } from './change.js'
import type { Registry } from './registry.js'
import type { Rollout } from './rollout.js'
import { type KeySketch, keyHashes, mayHoldHashed } from './sketch.js'
import { positionsOf, SketchShape } from './sketch-index.js'

export interface SketchSettings {
  /** A sketch older than this is not used: the client gets every change. */
  readonly staleMs: number
  /** Skips looked up for replay this long; an update after a longer silence is `lost`. */
  readonly windowMs: number
}

export const defaultSketchSettings: SketchSettings = { staleMs: 30_000, windowMs: 120_000 }

/** A client's filter, in a slot of its shape's index (keys it reported added since are set there too). */
interface ClientSketch {
  shape: SketchShape
  slot: number
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
export const sketchedKeys = (r: Rollout): readonly string[] | undefined =>
  keysOnly(r.change, MAX_SKETCHED_KEYS)

/** What a wave start needs of the sketches for a keys-only change: who may hold a key. */
export interface SketchPick {
  /** Clients with a fresh sketch that may hold a key (live or not; false positives included). */
  readonly holders: readonly string[]
  /** `n` clients of the wave were not sent it (n ≥ 1): remember it for replay. */
  skipped(n: number): void
}

export class Sketches {
  /** Shapes in use (m/k), each a bit-sliced index of its clients' filters. */
  readonly #shapes = new Map<string, SketchShape>()
  /** Clients whose filter is in use, oldest update first. */
  readonly #fresh = new Map<string, ClientSketch>()
  /** Clients whose filter went stale (not used) but is kept for the window: an update revives it. */
  readonly #idle = new Map<string, ClientSketch>()
  /** Each client's last update (to tell one silent past the window: `lost`). */
  readonly #seen = new Map<string, number>()
  /** Rollouts that skipped someone, by key; and in the order they last skipped (for pruning). */
  readonly #byKey = new Map<string, Set<Skipping>>()
  readonly #skipping = new Map<Rollout, Skipping>()
  readonly #hashed = new WeakMap<Rollout, Skipping['hashes']>()
  #skips = 0
  /**
   * The latest skip forgotten (pruned past the window). A client whose
   * previous update is not after it may have been skipped by it: it is
   * `lost`, even if `windowMs` was raised since and its silence is within
   * the new one.
   */
  #forgottenAt = Number.NEGATIVE_INFINITY
  /** Skipped deliveries queued again for a client that reported a key added (counted by the engine). */
  replayed = 0

  constructor(
    private readonly clock: Clock,
    /** Told which clients have a fresh sketch (the rest of the live ones get every change). */
    private readonly registry: Pick<Registry, 'setSketched'>,
    public settings: SketchSettings = defaultSketchSettings,
  ) {}

  /** Deliveries skipped so far, and replayed after a later update. */
  get counts(): { skipped: number; replayed: number; clients: number } {
    return {
      skipped: this.#skips,
      replayed: this.replayed,
      clients: this.#fresh.size + this.#idle.size,
    }
  }

  /**
   * For a wave start of a keys-only change (undefined for any other): the
   * clients with a fresh sketch that may hold one of its keys. Every other
   * client with a fresh sketch is skipped; the registry's plain live
   * clients (no fresh sketch) get it regardless.
   */
  pick(r: Rollout): SketchPick | undefined {
    const keys = sketchedKeys(r)
    if (!keys) return undefined
    const now = this.clock.now()
    this.#expire(now)
    const hashes = this.#hashes(r, keys)
    const holders: string[] = []
    if (this.#fresh.size > 0) {
      for (const shape of this.#shapes.values()) {
        shape.holders(
          hashes.map((h) => positionsOf(shape.m, shape.k, h)),
          holders,
        )
      }
    }
    return {
      holders,
      skipped: (n) => {
        if (n <= 0) return
        this.#touch(r, keys, hashes, this.clock.now())
        this.#skips += n
      },
    }
  }

  /**
   * Does `clientId` skip `r`? True only for a keys-only change and a fresh
   * sketch holding none of its keys; the skip is remembered for replay.
   */
  skips(r: Rollout, clientId: string): boolean {
    const keys = sketchedKeys(r)
    if (!keys) return false
    const now = this.clock.now()
    this.#expire(now)
    const s = this.#fresh.get(clientId)
    if (!s) return false
    const hashes = this.#hashes(r, keys)
    for (const h of hashes) {
      if (s.shape.mayHold(s.slot, positionsOf(s.shape.m, s.shape.k, h))) return false
    }
    this.#touch(r, keys, hashes, now)
    this.#skips++
    return true
  }

  /** A client's update (with its heartbeat): what to replay to it, or that it is lost. */
  update(clientId: string, u: SketchUpdate): SketchResult {
    const now = this.clock.now()
    this.#expire(now)
    this.#prune(now)
    // Nothing to go on: not an update (its time is not refreshed).
    if (!u.filter && u.added === undefined) return { replay: [], lost: false }
    const prevAt = this.#seen.get(clientId)
    const lost =
      prevAt !== undefined && (now - prevAt > this.settings.windowMs || prevAt <= this.#forgottenAt)
    let s = this.#fresh.get(clientId) ?? this.#idle.get(clientId)
    if (u.filter) {
      const f = u.filter
      if (s && (s.shape.m !== f.m || s.shape.k !== f.k)) {
        this.#release(clientId, s)
        s = undefined
      }
      if (!s) {
        const shape = this.#shape(f.m, f.k)
        s = { shape, slot: shape.alloc(clientId), at: now }
      }
      s.shape.write(s.slot, f)
    } else if (s && u.added) {
      // Kept until the next filter, which holds them all (no filter here: nothing is skipped).
      const shape = s.shape
      s.shape.add(
        s.slot,
        u.added.map((key) => positionsOf(shape.m, shape.k, keyHashes(key))),
      )
    }
    const replay = new Set<Rollout>()
    if (prevAt !== undefined && !lost) {
      if (u.added !== undefined) {
        for (const key of u.added) for (const e of this.#byKey.get(key) ?? []) replay.add(e.rollout)
      } else if (u.filter) {
        const filter = u.filter
        for (const e of this.#skipping.values()) {
          if (e.hashes.some((h) => mayHoldHashed(filter, h))) replay.add(e.rollout)
        }
      }
    }
    if (s) {
      // In use again, and the newest: last in the fresh order.
      this.#idle.delete(clientId)
      this.#fresh.delete(clientId)
      s.at = now
      this.#fresh.set(clientId, s)
      s.shape.setActive(s.slot, true)
      this.registry.setSketched(clientId, true)
    }
    this.#seen.set(clientId, now)
    return { replay: [...replay], lost }
  }

  /** Does the client have a filter here that is in use (not stale)? If not, ask for one. */
  known(clientId: string): boolean {
    this.#expire(this.clock.now())
    return this.#fresh.has(clientId)
  }

  /** Forget a client (it left for good, or its cache is gone). */
  forget(clientId: string): void {
    const s = this.#fresh.get(clientId) ?? this.#idle.get(clientId)
    if (s) this.#release(clientId, s)
    this.#seen.delete(clientId)
  }

  #shape(m: number, k: number): SketchShape {
    const name = `${m}/${k}`
    let shape = this.#shapes.get(name)
    if (!shape) {
      shape = new SketchShape(m, k)
      this.#shapes.set(name, shape)
    }
    return shape
  }

  /** Drop the client's filter: its slot is freed (and its shape, once empty). */
  #release(clientId: string, s: ClientSketch): void {
    this.#fresh.delete(clientId)
    this.#idle.delete(clientId)
    s.shape.release(s.slot)
    if (s.shape.used === 0) this.#shapes.delete(`${s.shape.m}/${s.shape.k}`)
    this.registry.setSketched(clientId, false)
  }

  /**
   * Filters older than `staleMs` stop being used (the registry hears: those
   * clients get every change); older than `windowMs`, they go. Each map is
   * in update order, so this stops at the first one still young enough.
   */
  #expire(now: number): void {
    const { staleMs, windowMs } = this.settings
    const stale = Math.min(staleMs, windowMs)
    for (const [id, s] of this.#fresh) {
      if (now - s.at <= stale) break
      this.#fresh.delete(id)
      this.#idle.set(id, s)
      s.shape.setActive(s.slot, false)
      this.registry.setSketched(id, false)
    }
    for (const [id, s] of this.#idle) {
      if (now - s.at <= windowMs) break
      this.#release(id, s)
    }
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
    // Already the latest skip: nothing moves.
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
    for (const [r, e] of this.#skipping) {
      if (now - e.lastSkipAt <= this.settings.windowMs) return
      this.#skipping.delete(r)
      this.#forgottenAt = Math.max(this.#forgottenAt, e.lastSkipAt)
      for (const key of sketchedKeys(r) ?? []) {
        const set = this.#byKey.get(key)
        set?.delete(e)
        if (set?.size === 0) this.#byKey.delete(key)
      }
    }
  }
}

/**
 * The client's key sketch (invalidation/sketch.ts): a Bloom filter of the
 * keys its cache holds, sent with a heartbeat when due (every `everyMs`, and
 * whenever the coordinator asks for one), and with every heartbeat the keys
 * cached since the last one. The coordinator then sends a change to keys
 * only to the clients that may hold one, and a change it skipped this client
 * for is sent after all when a heartbeat says a key of it was cached since.
 *
 * Sent only to a coordinator that asks (its heartbeat answers say `sketch`);
 * until then nothing is kept. Keys cached while a heartbeat is out, or lost
 * with a heartbeat that failed, go with the next one: none is left out.
 */

import { encodeSketch, fillSketch, ladderSize } from '../invalidation/sketch.js'
import { type KeySketchUpdate, MAX_ADDED_KEY_LENGTH, MAX_ADDED_KEYS } from '../protocol/sketch.js'

export interface KeySketchOptions {
  /** The filter's false-positive rate, for as many keys as the cache holds. */
  readonly fpr: number
  /** A fresh filter at least this often, ms. */
  readonly everyMs: number
  /** Most bytes of filter (past it the rate rises: the heartbeat body is bounded). */
  readonly maxBytes: number
}

export interface SketchTake {
  readonly update: KeySketchUpdate
  /** The heartbeat failed: what it carried goes with the next one. */
  readonly restore: () => void
}

export class KeySketcher {
  #added = new Set<string>()
  /**
   * Which keys were cached since the last filter is not known (more than a
   * heartbeat carries, one too long, or sketching just began): the next
   * heartbeat sends a filter alone, and the coordinator checks it against
   * every change it skipped this client for lately.
   */
  #unknown = false
  #filterAt = Number.NEGATIVE_INFINITY
  /** The coordinator uses sketches (its last answer said so). */
  #on = false
  /** It asked for a filter (it has none in use). */
  #asked = false

  constructor(
    private readonly opts: KeySketchOptions,
    private readonly keys: () => Iterable<string>,
    private readonly size: () => number,
    private readonly now: () => number,
  ) {}

  /** A key went into the cache (a load, a refetch that found it evicted, a set). */
  added(key: string): void {
    if (!this.#on || this.#unknown) return
    if (this.#added.size >= MAX_ADDED_KEYS || key.length > MAX_ADDED_KEY_LENGTH) {
      this.#unknown = true
      this.#added.clear()
      return
    }
    this.#added.add(key)
  }

  /** What the next heartbeat carries, or undefined (the coordinator does not use sketches). */
  take(): SketchTake | undefined {
    if (!this.#on) return undefined
    const now = this.now()
    const filterDue = this.#asked || this.#unknown || now - this.#filterAt >= this.opts.everyMs
    const added = this.#unknown ? undefined : this.#added
    const update: KeySketchUpdate = {
      ...(filterDue && { filter: encodeSketch(this.#filter()) }),
      ...(added && { added: [...added] }),
    }
    const filterAt = this.#filterAt
    this.#added = new Set()
    this.#unknown = false
    this.#asked = false
    if (filterDue) this.#filterAt = now
    return {
      update,
      restore: () => {
        if (filterDue) {
          this.#filterAt = filterAt
          this.#asked = true
        }
        if (!added) this.#unknown = true
        else for (const key of added) this.added(key)
      },
    }
  }

  /** A heartbeat's answer: does the coordinator use sketches, and does it want a filter? */
  answer(a: unknown): void {
    const said =
      typeof a === 'object' && a !== null ? (a as { sketch?: unknown }).sketch : undefined
    const on = said === 'want' || said === 'ok'
    // Just on (or back on): whatever was cached before went untracked, and the coordinator may
    // hold an older filter of this client id (another process under the same id) and have
    // skipped changes by it.
    if (on && !this.#on) {
      this.#asked = true
      this.#unknown = true
    }
    if (said === 'want') this.#asked = true
    this.#on = on
    if (!on) {
      this.#added.clear()
      this.#unknown = false
    }
  }

  #filter() {
    const n = Math.max(1, this.size())
    return fillSketch(this.keys(), ladderSize(n, this.opts.fpr, this.opts.maxBytes * 8))
  }
}

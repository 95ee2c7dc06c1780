/** The fleet as the engine knows it: who is connected and how big their caches are. */

export interface ClientInfo {
  readonly id: string
  /** Entry count last reported; undefined until the client reports. */
  entries: number | undefined
  /** Most entries its cache holds, as last reported (not kept in snapshots: the next heartbeat tells). */
  capacity?: number
  live: boolean
  /**
   * The engine's sequence number when the client was first seen: changes
   * after it concern it. Only a join that predates the engine's state lowers
   * it (a client heard of by heartbeat before its stream joined).
   */
  firstSeq: number
}

/**
 * Live clients' entry counts below this are counted one by one (see
 * `keysCost`): a change to fewer keys costs a client min(keys, entries),
 * so the fleet's sum needs only the small counts.
 */
export const SMALL_ENTRIES = 64

/** Sums over the live clients for a change to `keys` keys (keys ≤ SMALL_ENTRIES). */
export interface KeysCost {
  /** Σ min(keys, entries): entries such a change can touch. */
  readonly touched: number
  /** Σ entries. */
  readonly entries: number
  /** Σ max(1, min(keys, entries, most)): the budget units delivering it to all of them costs. */
  readonly units: number
}

export class Registry {
  readonly #clients = new Map<string, ClientInfo>()
  /**
   * Live clients without a fresh key sketch (`setSketched`): each gets
   * every change. The rest of the live clients are found by their sketch.
   */
  readonly #plain = new Set<string>()
  /** Clients with a fresh key sketch, live or not. */
  readonly #sketched = new Set<string>()
  #live = 0
  // Live clients' entries: the sum of those known, how many are unknown, and the small ones by count.
  #entriesSum = 0
  #entriesUnknown = 0
  readonly #small = new Float64Array(SMALL_ENTRIES)

  get size(): number {
    return this.#clients.size
  }

  get liveCount(): number {
    return this.#live
  }

  /** Live clients without a fresh key sketch: they get every change. */
  plainLive(): ReadonlySet<string> {
    return this.#plain
  }

  /** Clients with a fresh key sketch, live or not. */
  sketched(): ReadonlySet<string> {
    return this.#sketched
  }

  /** How many live clients have a fresh key sketch. */
  get sketchedLiveCount(): number {
    return this.#live - this.#plain.size
  }

  get(id: string): ClientInfo | undefined {
    return this.#clients.get(id)
  }

  isLive(id: string): boolean {
    return this.#clients.get(id)?.live === true
  }

  /**
   * Marks the client live; returns true if it was not live before. `seq`
   * below what the client was first seen at (a join that predates the
   * engine's state) becomes its first seq: it has none of the changes since.
   */
  join(id: string, entries: number | undefined, seq: number): boolean {
    const found = this.#clients.get(id)
    if (found) {
      if (entries !== undefined) this.#setEntries(found, entries)
      if (seq < found.firstSeq) found.firstSeq = seq
      if (found.live) return false
      this.#setLive(found, true)
      return true
    }
    const info: ClientInfo = { id, entries, live: false, firstSeq: seq }
    this.#clients.set(id, info)
    this.#setLive(info, true)
    return true
  }

  leave(id: string): boolean {
    const found = this.#clients.get(id)
    if (!found?.live) return false
    this.#setLive(found, false)
    return true
  }

  report(id: string, entries: number, seq: number, capacity?: number): void {
    const found = this.#clients.get(id)
    if (found) {
      this.#setEntries(found, entries)
      if (capacity !== undefined) found.capacity = capacity
    } else
      this.#clients.set(id, {
        id,
        entries,
        live: false,
        firstSeq: seq,
        ...(capacity !== undefined && { capacity }),
      })
  }

  /** Restore a client exactly as snapshotted (a key sketch is not: it is sent again). */
  restore(info: ClientInfo): void {
    this.forget(info.id)
    const c: ClientInfo = { ...info, live: false }
    this.#clients.set(c.id, c)
    if (info.live) this.#setLive(c, true)
  }

  /** Forget a client that is gone for good. */
  forget(id: string): void {
    const found = this.#clients.get(id)
    if (found?.live) this.#setLive(found, false)
    this.#sketched.delete(id)
    this.#clients.delete(id)
  }

  /**
   * The client's key sketch is fresh (it may skip keys-only changes its
   * sketch rules out) or not (it gets every change). A client not known
   * here yet is remembered when it joins.
   */
  setSketched(id: string, on: boolean): void {
    if (on) this.#sketched.add(id)
    else this.#sketched.delete(id)
    if (!this.#clients.get(id)?.live) return
    if (on) this.#plain.delete(id)
    else this.#plain.add(id)
  }

  *live(): IterableIterator<ClientInfo> {
    for (const c of this.#clients.values()) if (c.live) yield c
  }

  all(): IterableIterator<ClientInfo> {
    return this.#clients.values()
  }

  /**
   * The live clients' sums for a change to `keys` keys (1 ≤ keys ≤
   * SMALL_ENTRIES), without a pass over them: a client's cost is
   * min(keys, entries), at least 1 and at most `most`; a client that has
   * not reported counts as `fallback` entries.
   */
  keysCost(keys: number, fallback: number, most: number): KeysCost {
    const cap = Math.max(1, Math.floor(most))
    const unitsOf = (e: number) => Math.min(Math.max(1, Math.min(keys, e)), cap)
    let known = this.#live - this.#entriesUnknown
    let touched = 0
    let units = 0
    for (let e = 0; e < keys; e++) {
      const n = this.#small[e]!
      if (n === 0) continue
      known -= n
      touched += e * n
      units += unitsOf(e) * n
    }
    touched += keys * known
    units += unitsOf(keys) * known
    touched += Math.min(keys, fallback) * this.#entriesUnknown
    units += unitsOf(fallback) * this.#entriesUnknown
    return { touched, entries: this.#entriesSum + fallback * this.#entriesUnknown, units }
  }

  #setLive(c: ClientInfo, live: boolean): void {
    if (c.live === live) return
    const sign = live ? 1 : -1
    c.live = live
    this.#live += sign
    this.#count(c.entries, sign)
    if (!live) this.#plain.delete(c.id)
    else if (!this.#sketched.has(c.id)) this.#plain.add(c.id)
  }

  #setEntries(c: ClientInfo, entries: number): void {
    if (c.live) {
      this.#count(c.entries, -1)
      this.#count(entries, 1)
    }
    c.entries = entries
  }

  #count(entries: number | undefined, sign: number): void {
    if (entries === undefined) {
      this.#entriesUnknown += sign
      return
    }
    this.#entriesSum += sign * entries
    // Counts come checked (integers ≥ 0); a snapshot's are numbers: only whole small ones index.
    if (Number.isInteger(entries) && entries >= 0 && entries < SMALL_ENTRIES)
      this.#small[entries]! += sign
  }
}

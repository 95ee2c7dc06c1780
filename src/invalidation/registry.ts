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

export class Registry {
  readonly #clients = new Map<string, ClientInfo>()
  #live = 0

  get size(): number {
    return this.#clients.size
  }

  get liveCount(): number {
    return this.#live
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
      if (entries !== undefined) found.entries = entries
      if (seq < found.firstSeq) found.firstSeq = seq
      if (found.live) return false
      found.live = true
      this.#live++
      return true
    }
    this.#clients.set(id, { id, entries, live: true, firstSeq: seq })
    this.#live++
    return true
  }

  leave(id: string): boolean {
    const found = this.#clients.get(id)
    if (!found?.live) return false
    found.live = false
    this.#live--
    return true
  }

  report(id: string, entries: number, seq: number, capacity?: number): void {
    const found = this.#clients.get(id)
    if (found) {
      found.entries = entries
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

  /** Restore a client exactly as snapshotted. */
  restore(info: ClientInfo): void {
    this.#clients.set(info.id, { ...info })
    if (info.live) this.#live++
  }

  /** Forget a client that is gone for good. */
  forget(id: string): void {
    const found = this.#clients.get(id)
    if (found?.live) this.#live--
    this.#clients.delete(id)
  }

  *live(): IterableIterator<ClientInfo> {
    for (const c of this.#clients.values()) if (c.live) yield c
  }

  all(): IterableIterator<ClientInfo> {
    return this.#clients.values()
  }
}

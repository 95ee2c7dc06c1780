/**
 * What the store keeps of each client for the next leader: when it was first
 * seen, its cache's size and capacity as last heard, and how far it has
 * acknowledged the log. The leader writes a record with its next commit, and
 * only when it moved materially (entries past the stored bound or under half
 * of it, another capacity, a newer ack), never once per heartbeat. A new
 * leader prices each client at what its record holds — rounded up, so never
 * below what it last heard — and a client never heard from at
 * `defaultEntries`.
 */
import type { Engine } from '../../invalidation/engine.js'
import type { Heartbeat } from '../../protocol/messages.js'

export interface ClientRecord {
  /** The engine's seq when the client was first seen. */
  readonly f: number
  /**
   * Entries as last heard, rounded up (`entriesBound`); absent: never heard,
   * priced at `defaultEntries`. (Earlier versions kept the count taken at
   * connect, before the cache filled, as `e`: it is not read.)
   */
  readonly n?: number
  /** Most entries its cache holds, as last heard. */
  readonly k?: number
  /** The highest log seq it has applied, as last heard. */
  readonly a?: number
}

/**
 * Entries as a record keeps them: rounded up to three significant bits (exact
 * below 16, at most 1/8 over), so a cache that fills steadily is rewritten
 * once per eighth of growth, not on every heartbeat.
 */
export const entriesBound = (n: number): number => {
  if (n < 16) return n
  const step = 2 ** (Math.floor(Math.log2(n)) - 3)
  return Math.ceil(n / step) * step
}

/** Each client's highest applied seq, as the records hold it. */
export function* ackedSeqs(
  records: ReadonlyMap<string, ClientRecord>,
): IterableIterator<readonly [string, number]> {
  for (const [id, r] of records) if (r.a !== undefined) yield [id, r.a]
}

/** The leader's clients: what it tells its engine, and the records it keeps for the next leader. */
export class ClientRecords {
  readonly #stored: Map<string, ClientRecord>

  /**
   * `stored`: the records as the store holds them (the engine was restored
   * from them). Their capacities, which snapshots leave out, go to the engine
   * here.
   */
  constructor(
    private readonly engine: Engine,
    stored: ReadonlyMap<string, ClientRecord>,
    private readonly write: (clientId: string, record: ClientRecord) => void,
  ) {
    this.#stored = new Map(stored)
    for (const [id, r] of stored)
      if (r.n !== undefined && r.k !== undefined) engine.report(id, r.n, r.k)
  }

  /** A client connected, with the entries it held then (if it said). */
  joined(clientId: string, entries: number | undefined, predates = false): void {
    this.engine.join(clientId, { ...(entries !== undefined && { entries }), predates })
    // A count taken at connect is a floor (the cache fills after connecting): it may
    // raise what the record says, or what a client never heard from is priced at, not lower it.
    const n = this.#stored.get(clientId)?.n
    const floor = n ?? this.engine.config.defaultEntries
    this.#update(
      clientId,
      entries !== undefined && entries > floor ? { n: entriesBound(entries) } : {},
    )
  }

  /** A heartbeat: the engine prices the next deliveries by it; the record follows it. */
  heard(clientId: string, hb: Pick<Heartbeat, 'entries' | 'capacity' | 'ackedSeq'>): void {
    const { entries, capacity, ackedSeq } = hb
    if (entries !== undefined) this.engine.report(clientId, entries, capacity)
    const was = this.#stored.get(clientId)
    const n = was?.n
    this.#update(clientId, {
      ...(entries !== undefined &&
        (n === undefined || entries > n || entries < n / 2) && { n: entriesBound(entries) }),
      ...(entries !== undefined && capacity !== undefined && { k: capacity }),
      ...(ackedSeq !== undefined && ackedSeq > (was?.a ?? -1) && { a: ackedSeq }),
    })
  }

  /** Write the record if the engine knows the client and the record changed. */
  #update(clientId: string, patch: Omit<ClientRecord, 'f'>): void {
    const was = this.#stored.get(clientId)
    // The engine's first seq for it, once it knows it; only a predating join lowers it.
    const f = this.engine.client(clientId)?.firstSeq ?? was?.f
    if (f === undefined) return
    const { n, k, a } = { ...was, ...patch }
    // Built field by field: a field of an earlier version (`e`) is not carried on.
    const next: ClientRecord = {
      f,
      ...(n !== undefined && { n }),
      ...(k !== undefined && { k }),
      ...(a !== undefined && { a }),
    }
    if (was && f === was.f && n === was.n && k === was.k && a === was.a) return
    this.#stored.set(clientId, next)
    this.write(clientId, next)
  }
}

/**
 * The fleet's delivery log, in memory: every signed message the coordinator
 * sends, in order, with who it was for. Its sequence numbers are the SSE
 * `id:`s clients resume from; a client whose resume point has been trimmed
 * away gets a `reset` (soft stale-all), never a flush. Each message is
 * signed and framed once, however many clients receive it.
 */
import type { GoawayMessage, SignedStreamMessage } from '../protocol/messages.js'
import { type Signed, type SigningKeys, signMessage } from '../protocol/sign.js'

type Unsequenced<M> = M extends unknown ? Omit<M, 'seq' | 'v' | 'fleet' | 'epoch'> : never
type Unfleeted<M> = M extends unknown ? Omit<M, 'v' | 'fleet' | 'epoch'> : never

export interface LogEntry {
  readonly seq: number
  /** The SSE frame, ready to write. */
  readonly frame: string
  /** Who it is for; undefined: everyone. */
  readonly to?: ReadonlySet<string>
}

export interface Signer {
  readonly fleet: string
  /** The coordinator's epoch, stamped on every message (it changes when the store's state is lost). */
  epoch: string
  readonly kid: string
  readonly keys: SigningKeys
  /** Called once per message signed (metrics: once per message, however many receive it). */
  readonly onSign?: () => void
}

/**
 * The coordinator's signer: the active key of `signing`, and a new epoch
 * (a memory store's state lives as long as this process; on Redis the
 * replica takes the store's epoch before anything is signed).
 */
export const createSigner = (
  fleet: string,
  signing: { readonly activeKid: string; readonly keys: SigningKeys },
  epoch: string,
  onSign: () => void,
): Signer => ({ fleet, epoch, kid: signing.activeKid, keys: signing.keys, onSign })

/** A message for the fleet's clients, signed with the active key (version, fleet and epoch added). */
export const signFor = <T extends object>(
  signer: Signer,
  message: T,
): T & Signed & { v: 1; fleet: string; epoch: string } => {
  signer.onSign?.()
  return signMessage(
    { v: 1 as const, fleet: signer.fleet, epoch: signer.epoch, ...message },
    signer.kid,
    signer.keys[signer.kid]!,
  )
}

/**
 * The signed `hello` that opens a connection: fleet, epoch, the log's last
 * seq and the client's nonce. No `id:` line: it is no resume point.
 */
export const helloFrame = (
  signer: Signer,
  hello: { seq: number; clientId: string; nonce?: string | undefined },
): string =>
  sseFrame(
    'hello',
    signFor(signer, {
      type: 'hello' as const,
      seq: hello.seq,
      clientId: hello.clientId,
      ...(hello.nonce !== undefined && { nonce: hello.nonce }),
    }),
  )

/**
 * One SSE frame: `id:` + `event:` + `data:` lines, from data already in
 * JSON (as the store keeps it); JSON has no raw newlines, so one data line.
 */
export const sseJsonFrame = (event: string, json: string, id?: number): string =>
  `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${json}\n\n`

/** The `goaway` that ends a stream at shutdown: come back after `retryAfterMs`. */
export const goawayFrame = (reason: string, retryAfterMs: number): string =>
  sseFrame('goaway', { type: 'goaway', retryAfterMs, reason } satisfies GoawayMessage)

/** One SSE frame of `data`, as JSON. */
export const sseFrame = (event: string, data: unknown, id?: number): string =>
  sseJsonFrame(event, JSON.stringify(data), id)

/**
 * What one recipient of a kept entry costs: its place in the entry's Set
 * (measured on Node 20: about 33 bytes; the id itself is shared).
 */
export const RECIPIENT_BYTES = 32

/** An entry's share of the log's byte budget: its frame, and its recipient list. */
const costOf = (e: LogEntry): number => e.frame.length + (e.to?.size ?? 0) * RECIPIENT_BYTES

export class DeliveryLog {
  readonly #entries: LogEntry[] = []
  #head = 0
  #seq: number
  /**
   * What the entries hold: their frames, in characters (a frame's JSON is
   * ASCII but for non-ASCII text in it), and their recipient lists.
   */
  #bytes = 0

  /**
   * Keeps the last `maxEntries` entries, and of those no more than
   * `maxBytes` of frames and recipient lists (at least the newest entry): a
   * few large config changes must not hold megabytes each until ten
   * thousand more go by, and neither must a fleet's worth of recipients
   * (10,000 of them take about 330 KB an entry: ten thousand such entries
   * would be 3 GB).
   */
  constructor(
    readonly signer: Signer,
    private readonly maxEntries: number,
    startSeq = 0,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {
    this.#seq = startSeq
  }

  /** Bytes held: frames (characters: ASCII JSON) and recipient lists (RECIPIENT_BYTES each). */
  get bytes(): number {
    return this.#bytes
  }

  /** The last sequence number used. */
  get seq(): number {
    return this.#seq
  }

  /** Smallest sequence number still held (seq + 1 when empty). */
  get oldest(): number {
    return this.#entries[this.#head]?.seq ?? this.#seq + 1
  }

  get length(): number {
    return this.#entries.length - this.#head
  }

  /** Sign, frame and keep a message; returns the entry to send. */
  append(message: Unsequenced<SignedStreamMessage>, to?: Iterable<string>): LogEntry {
    const seq = ++this.#seq
    const entry: LogEntry = {
      seq,
      frame: this.frame({ ...message, seq } as never),
      ...(to && { to: new Set(to) }),
    }
    this.#entries.push(entry)
    this.#bytes += costOf(entry)
    while (this.length > this.maxEntries || (this.#bytes > this.maxBytes && this.length > 1)) {
      this.#bytes -= costOf(this.#entries[this.#head]!)
      // Released now, not when the array is next compacted.
      this.#entries[this.#head] = undefined as never
      this.#head++
    }
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries.splice(0, this.#head)
      this.#head = 0
    }
    return entry
  }

  /** A signed frame that is not kept (a config snapshot or reset for one client). */
  frame(message: Unfleeted<SignedStreamMessage>): string {
    return sseFrame(message.type, signFor(this.signer, message), message.seq)
  }

  /**
   * What `clientId` missed after `since`: the entries for it, or 'gap' when
   * part of (since, now] is no longer held.
   */
  after(since: number, clientId: string): LogEntry[] | 'gap' {
    if (since >= this.#seq) return []
    if (since + 1 < this.oldest) return 'gap'
    const out: LogEntry[] = []
    // Entries are in seq order: binary search for the first after `since`.
    let lo = this.#head
    let hi = this.#entries.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.#entries[mid]!.seq <= since) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < this.#entries.length; i++) {
      const e = this.#entries[i]!
      if (!e.to || e.to.has(clientId)) out.push(e)
    }
    return out
  }
}

/**
 * One replica's streams: each client connected here is said hello, caught up
 * from the fleet's log (or reset, or given the config), registered in the
 * fleet's presence, then fed the log's new entries as the leader commits
 * them. When the store's state is lost, every stream here moves to the new
 * epoch in place — a hello with its own nonce, then a reset, then the new
 * log from its start — and is registered again: no stream is cut, no client
 * reconnects, and none is left out of the fleet.
 */

import { configDigest } from '../../protocol/messages.js'
import type { Store } from '../../store/store.js'
import { catchUp, type LogPosition, lostReason, predates } from '../catch-up.js'
import { ConfigFrames } from '../config-frame.js'
import type { FleetTracker } from '../fleet.js'
import type { Connection, StreamHub } from '../hub.js'
import { helloFrame, type Signer, sseJsonFrame } from '../log.js'
import type { StreamOpen } from '../runtime.js'
import type { FleetEvent } from './fleet-events.js'
import type { LogMeta } from './persister.js'
import { type SignableMessage, signToJson } from './persister.js'
import { type PresenceRecord, STATE } from './restore.js'

const TAIL_BLOCK_MS = 1000
/** Presence writes in flight at once when registering many streams. */
const REGISTER_BATCH = 100

export interface StreamsOptions {
  /** This replica's id (presence records and events name it). */
  readonly id: string
  readonly store: Store
  readonly signer: Signer
  readonly hub: StreamHub
  /** Clients' health as last heard (their cache sizes, for presence). */
  readonly fleet: FleetTracker
  readonly now: () => number
  readonly closed: () => boolean
  /**
   * Before a stream is caught up: any move to a new epoch is over, and the
   * store still holds this replica's epoch (if not, the move happens first).
   */
  readonly settle: () => Promise<void>
  /** A move to a new epoch is in progress. */
  readonly moving: () => boolean
  /** A log entry of another epoch came by: the store's state may be lost (check it now). */
  readonly foreign: () => Promise<void>
}

export class Streams {
  #tailSeq = 0
  /** Bumped by each move: a tail read begun before it is of the old log position, not used. */
  #generation = 0
  /** Clients being caught up: live frames wait here so none overtakes the replay. */
  readonly #holding = new Map<string, [number, string][]>()
  /** Catch-ups in progress (a move waits for them: they began in the epoch it leaves). */
  readonly #catchUps = new Set<Promise<void>>()
  /** The stable config last read from the store, by its digest (a new client's frame is signed once per version). */
  #stable: { digest: string; values: Record<string, unknown> } | undefined
  readonly #configFrames = new ConfigFrames()
  /** The presence record this replica last wrote for each of its clients (what it may erase). */
  readonly #written = new Map<string, string>()

  constructor(private readonly o: StreamsOptions) {}

  /** The latest log seq streamed here. */
  get seq(): number {
    return this.#tailSeq
  }

  /** Start after the log's last entry. */
  async start(): Promise<void> {
    this.#tailSeq = (await this.o.store.bounds()).last
  }

  async connected(open: StreamOpen): Promise<void> {
    const { clientId } = open
    this.#holding.set(clientId, [])
    const at = { last: 0 }
    try {
      // Then at once (no await between): a move that starts later waits for this catch-up.
      do await this.o.settle()
      while (this.o.moving())
      const work = this.#catchUp(open, at)
      this.#catchUps.add(work)
      try {
        await work
      } finally {
        this.#catchUps.delete(work)
      }
    } finally {
      const held = this.#holding.get(clientId) ?? []
      this.#holding.delete(clientId)
      for (const [seq, f] of held) if (seq > at.last) this.o.hub.write(clientId, f)
    }
  }

  disconnected(clientId: string): void {
    const { store } = this.o
    // Back already (it reconnected here): its new stream's join and presence must stand.
    const back = () => this.o.hub.has(clientId)
    const mine = this.#written.get(clientId)
    void (async () => {
      if (back()) return
      // Only the presence this replica wrote goes: a newer stream elsewhere keeps its own.
      const dropped = mine !== undefined && (await store.dropPresence(clientId, mine))
      if (this.#written.get(clientId) === mine) this.#written.delete(clientId)
      if (back() || (!dropped && (await store.presence())[clientId] !== undefined)) return
      await store.publish(
        JSON.stringify({ t: 'leave', c: clientId, r: this.o.id } satisfies FleetEvent),
      )
    })().catch(() => {})
  }

  /**
   * The store's state was lost and `epoch` is the fleet's now: every stream
   * here (but those still being caught up, which settle into the new epoch
   * themselves) gets a hello of the new epoch with its own nonce and a
   * signed reset (soft stale-all, and the client counts sequence numbers
   * afresh), and the tail starts over at the new log's beginning, so what the
   * new epoch's leader committed meanwhile reaches them too. Returns the
   * clients moved, for registering.
   */
  async move(epoch: string, was: string): Promise<string[]> {
    await Promise.allSettled([...this.#catchUps])
    const bounds = await this.o.store.bounds()
    // From here on, synchronously: no tail frame of either log slips between.
    this.o.signer.epoch = epoch
    this.#generation++
    this.#tailSeq = bounds.floor
    const reason = lostReason(was, epoch)
    const moved: string[] = []
    for (const conn of [...this.o.hub.connections()]) {
      if (this.#holding.has(conn.clientId)) continue
      const { clientId, nonce } = conn
      this.o.hub.write(clientId, helloFrame(this.o.signer, { seq: bounds.last, clientId, nonce }))
      this.o.hub.write(
        clientId,
        frame(bounds.floor, 'reset', this.#sign({ type: 'reset', seq: bounds.floor, reason })),
      )
      moved.push(clientId)
    }
    return moved
  }

  /** Every client connected here and not being caught up (those register themselves). */
  settled(): string[] {
    return [...this.o.hub.connections()]
      .map((c) => c.clientId)
      .filter((id) => !this.#holding.has(id))
  }

  /**
   * Write these clients' presence again and tell the leader they joined
   * (`predates`: they were in the fleet before this epoch). A client that
   * left meanwhile is not left behind in presence.
   */
  async register(clientIds: readonly string[], old: boolean): Promise<void> {
    const one = async (clientId: string) => {
      const conn = this.o.hub.get(clientId)
      if (!conn) return
      const entries = this.o.fleet.health(clientId)?.entries
      const record = await this.#announce(clientId, entries, conn.connectedAt, old)
      if (!this.#still(conn)) await this.o.store.dropPresence(clientId, record)
    }
    for (let i = 0; i < clientIds.length; i += REGISTER_BATCH)
      await Promise.all(clientIds.slice(i, i + REGISTER_BATCH).map(one))
  }

  /** Every replica: the log's new entries, to this replica's connected clients. */
  async tail(): Promise<void> {
    while (!this.o.closed()) {
      const generation = this.#generation
      let records: Awaited<ReturnType<Store['tail']>>
      try {
        records = await this.o.store.tail(this.#tailSeq, 1000, TAIL_BLOCK_MS)
      } catch {
        await new Promise((r) => setTimeout(r, 200))
        continue
      }
      if (generation !== this.#generation) continue
      for (const r of records) {
        const meta = metaOf(r.meta)
        if (meta.epoch !== undefined && meta.epoch !== this.o.signer.epoch) {
          // Of an epoch this replica does not follow: find out (a move restarts the tail); if
          // the store still holds ours, the entry is none of ours and is passed over.
          const checked = await this.o.foreign().then(
            () => true,
            () => false,
          )
          if (generation !== this.#generation) break
          if (!checked) {
            await new Promise((r) => setTimeout(r, 200))
            break
          }
          this.#tailSeq = r.seq
          continue
        }
        this.#tailSeq = r.seq
        const f = frame(r.seq, meta.type ?? 'change', r.message)
        const to = r.to.length === 0 ? [...this.o.hub.connections()].map((c) => c.clientId) : r.to
        for (const id of to) {
          const held = this.#holding.get(id)
          if (held) held.push([r.seq, f])
          else this.o.hub.write(id, f)
        }
      }
    }
  }

  /** Hello, catch-up, presence and the join, for one new stream (`at.last`: held frames after it follow). */
  async #catchUp(open: StreamOpen, at: { last: number }): Promise<void> {
    const { store, hub } = this.o
    const { clientId } = open
    const bounds = await store.bounds()
    at.last = bounds.last
    const log: LogPosition = { epoch: this.o.signer.epoch, last: bounds.last, floor: bounds.floor }
    await this.#announce(clientId, open.entries, Math.floor(this.o.now()), predates(open, log))
    hub.write(
      clientId,
      helloFrame(this.o.signer, { seq: bounds.last, clientId, nonce: open.nonce }),
    )
    const next = catchUp(open, log)
    if (next.kind === 'config') {
      hub.write(clientId, await this.#configFrame(log))
    } else if (next.kind === 'reset') {
      hub.write(
        clientId,
        frame(
          bounds.last,
          'reset',
          this.#sign({ type: 'reset', seq: bounds.last, reason: next.reason }),
        ),
      )
    } else {
      for (let after = next.after; after < bounds.last; ) {
        const page = await store.read(after, 1000)
        if (page.length === 0) break
        for (const r of page) {
          if (r.seq > bounds.last) break
          if (r.to.length === 0 || r.to.includes(clientId))
            hub.write(clientId, frame(r.seq, metaOf(r.meta).type ?? 'change', r.message))
        }
        after = page.at(-1)!.seq
      }
    }
  }

  /** Presence, then the join event for the leader. */
  async #announce(
    clientId: string,
    entries: number | undefined,
    at: number,
    old: boolean,
  ): Promise<string> {
    const { store, id } = this.o
    const presence: PresenceRecord = { r: id, ...(entries !== undefined && { e: entries }), at }
    const record = JSON.stringify(presence)
    this.#written.set(clientId, record)
    await store.setPresence(clientId, record)
    await store.publish(
      JSON.stringify({
        t: 'join',
        c: clientId,
        r: id,
        ...(entries !== undefined && { e: entries }),
        ...(old && { p: 1 }),
      } satisfies FleetEvent),
    )
    return record
  }

  /**
   * The stable config for a new client, signed once per version: the values
   * are read from the store's head (and their digest taken) only when the
   * digest the leader keeps beside it says they changed.
   */
  async #configFrame(at: LogPosition): Promise<string> {
    const { store } = this.o
    const digest = await store.stateField(STATE.stableDigest)
    if (digest === undefined || digest !== this.#stable?.digest) {
      const head = await store.stateField(STATE.head)
      const values = head
        ? ((JSON.parse(head) as { stableConfigValues?: Record<string, unknown> })
            .stableConfigValues ?? {})
        : {}
      this.#stable = { digest: configDigest(values), values }
    }
    const { digest: version, values } = this.#stable
    return this.#configFrames.frame(version, at, (seq) =>
      frame(seq, 'config', this.#sign({ type: 'config', seq, values })),
    )
  }

  /** Is this stream still the client's connection here? */
  #still(conn: Connection): boolean {
    return this.o.hub.get(conn.clientId) === conn
  }

  #sign(m: SignableMessage): string {
    return signToJson(this.o.signer, m)
  }
}

/** A log entry's frame: its signed message (JSON) under its sequence number. */
const frame = (seq: number, event: string, json: string) => sseJsonFrame(event, json, seq)

/** A log entry's metadata: its SSE event type and the epoch it was signed in (absent: unknown). */
const metaOf = (meta: string | undefined): Partial<Pick<LogMeta, 'epoch'>> & { type?: string } =>
  meta ? (JSON.parse(meta) as Partial<LogMeta>) : {}

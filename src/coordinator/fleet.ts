/**
 * What the coordinator knows of each client beyond the engine: its last
 * heartbeat (health for gates, the fleet view and the rewarm loop: see
 * warmup/fleet-health.ts) and which of its deliveries it has acknowledged
 * (per-wave acked counts).
 */
import type { Heartbeat } from '../protocol/messages.js'
import { FleetHealth, type ClientHealth as Health } from '../warmup/fleet-health.js'

/** One delivery as the log records it. */
export interface DeliveryRecord {
  readonly seq: number
  readonly rolloutId: string
  readonly wave: number
  readonly clientIds: readonly string[]
}

interface Pending {
  readonly seq: number
  readonly rolloutId: string
  readonly wave: number
}

export type ClientHealth = Health<Heartbeat>

/** Deliveries a client has not acknowledged yet are kept up to this many. */
const MAX_PENDING = 1000
/** Streams turned away lately (e.g. another fleet), kept up to this many. */
const MAX_TURNED_AWAY = 100

export interface TurnedAway {
  readonly clientId: string
  readonly reason: string
  readonly at: number
  readonly detail?: string
}

/** A heartbeat as kept: without its key sketch (the engine keeps that; a filter can be 100 KB). */
const kept = (hb: Heartbeat): Heartbeat => {
  if (hb.sketch === undefined) return hb
  const { sketch: _, ...rest } = hb
  return rest
}

export class FleetTracker extends FleetHealth<Heartbeat> {
  readonly #pending = new Map<string, Pending[]>()
  /** rolloutId → acked count per wave. */
  readonly #acked = new Map<string, number[]>()
  readonly #turnedAway = new Map<string, TurnedAway>()
  /** Clients whose last heartbeat says they refuse everything (few, or none): refusedBy looks at these only. */
  readonly #refusing = new Set<string>()

  delivered(clientIds: Iterable<string>, seq: number, rolloutId: string, wave: number): void {
    for (const id of clientIds) {
      let list = this.#pending.get(id)
      if (!list) {
        list = []
        this.#pending.set(id, list)
      }
      list.push({ seq, rolloutId, wave })
      if (list.length > MAX_PENDING) list.shift()
    }
  }

  /**
   * Keep `clientId`'s last heartbeat, without its key sketch: the engine
   * keeps that, and a filter can be 100 KB a client. (Its rewarm
   * checkpoints never come here: the ledger keeps those.)
   */
  override heartbeat(clientId: string, hb: Heartbeat, at: number): void {
    super.heartbeat(clientId, kept(hb), at)
    if (hb.refusing) this.#refusing.add(clientId)
    else this.#refusing.delete(clientId)
    this.#turnedAway.delete(clientId)
    if (hb.ackedSeq !== undefined) this.ack(clientId, hb.ackedSeq)
  }

  /**
   * The client has applied everything up to `ackedSeq`: its deliveries up to
   * there count as acked, each once (a repeated or older ack counts nothing).
   */
  ack(clientId: string, ackedSeq: number): void {
    const list = this.#pending.get(clientId)
    if (!list) return
    let k = 0
    while (k < list.length && list[k]!.seq <= ackedSeq) {
      const p = list[k]!
      let counts = this.#acked.get(p.rolloutId)
      if (!counts) {
        counts = []
        this.#acked.set(p.rolloutId, counts)
      }
      counts[p.wave] = (counts[p.wave] ?? 0) + 1
      k++
    }
    list.splice(0, k)
    if (list.length === 0) this.#pending.delete(clientId)
  }

  /** A stream was refused because nothing sent on it would apply (the last 100 kept). */
  turnedAway(clientId: string, reason: string, at: number, detail?: string): void {
    this.#turnedAway.delete(clientId)
    this.#turnedAway.set(clientId, {
      clientId,
      reason,
      at,
      ...(detail !== undefined && { detail }),
    })
    if (this.#turnedAway.size > MAX_TURNED_AWAY)
      this.#turnedAway.delete(this.#turnedAway.keys().next().value!)
  }

  /** Streams turned away lately, newest last. */
  recentlyTurnedAway(): TurnedAway[] {
    return [...this.#turnedAway.values()]
  }

  /**
   * Clients among `ids` that refuse everything (their last heartbeat said
   * so) and hold deliveries of `rolloutId` they have not acknowledged: the
   * rollout reached them and did not apply.
   */
  refusedBy(rolloutId: string, ids: ReadonlySet<string>): { count: number; reasons: string[] } {
    let count = 0
    const reasons = new Set<string>()
    // Only the refusing clients: a pass over every client with deliveries pending, for each
    // rollout a list shows, took seconds at 10,000 clients and a thousand rollouts kept.
    for (const id of this.#refusing) {
      const refusing = this.health(id)?.refusing
      const list = this.#pending.get(id)
      if (!refusing || !list || !ids.has(id) || !list.some((p) => p.rolloutId === rolloutId))
        continue
      count++
      reasons.add(refusing.reason)
    }
    return { count, reasons: [...reasons] }
  }

  /**
   * Among the clients `ids` (those connected): which refuse everything, by
   * reason, and which run a config whose digest is none of `configs` (the
   * coordinator's stable config, or the one last pushed).
   */
  problems(
    ids: Iterable<string>,
    configs: ReadonlySet<string>,
  ): { refusing: Map<string, string[]>; configSplit: string[] } {
    const refusing = new Map<string, string[]>()
    const configSplit: string[] = []
    for (const id of ids) {
      const h = this.health(id)
      if (!h) continue
      if (h.refusing) {
        const list = refusing.get(h.refusing.reason) ?? []
        list.push(id)
        refusing.set(h.refusing.reason, list)
      }
      if (h.configDigest !== undefined && !configs.has(h.configDigest)) configSplit.push(id)
    }
    return { refusing, configSplit }
  }

  /**
   * Start the delivery bookkeeping over from a record of it (a new leader,
   * from the store): the deliveries, oldest first, then how far each client
   * had acked. Counts come out as if this tracker had seen it all; health is
   * kept.
   */
  restore(
    deliveries: Iterable<DeliveryRecord>,
    ackedSeqs: Iterable<readonly [clientId: string, ackedSeq: number]>,
  ): void {
    this.#pending.clear()
    this.#acked.clear()
    for (const d of deliveries) this.delivered(d.clientIds, d.seq, d.rolloutId, d.wave)
    for (const [id, seq] of ackedSeqs) this.ack(id, seq)
  }

  /** Acked clients per wave of a rollout. */
  acked(rolloutId: string): readonly number[] {
    return this.#acked.get(rolloutId) ?? []
  }

  override forget(clientId: string): void {
    super.forget(clientId)
    this.#pending.delete(clientId)
    this.#refusing.delete(clientId)
  }

  /**
   * Forget the clients `keep` does not name: what it knows of each (health,
   * deliveries awaiting its ack). Clients come and go under new ids (a
   * deploy, an autoscaler): without this their records would grow forever.
   * Returns how many were forgotten.
   */
  sweep(keep: (clientId: string, lastHeardAt: number | undefined) => boolean): number {
    const ids = new Set<string>()
    for (const [id] of this.reports()) ids.add(id)
    for (const id of this.#pending.keys()) ids.add(id)
    let gone = 0
    for (const id of ids) {
      if (keep(id, this.health(id)?.at)) continue
      this.forget(id)
      gone++
    }
    return gone
  }
}

/** A client neither connected nor heard from for this long is forgotten (its health, its pending acks). */
export const FORGET_AFTER_MS = 3_600_000

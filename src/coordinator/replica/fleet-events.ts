/**
 * What replicas tell the leader about their clients, through the store's
 * event stream: joins, leaves and heartbeats. The leader applies them to its
 * engine (and to its view of the fleet's health), and lets go of the
 * clients of replicas that died.
 */
import type { Engine } from '../../invalidation/engine.js'
import type { Heartbeat } from '../../protocol/messages.js'
import type { Store } from '../../store/store.js'
import type { FleetTracker } from '../fleet.js'
import type { ClientRecords } from './client-records.js'
import { readPresence } from './presence.js'

/** One event: `c` the client, `r` the replica it is connected to. */
export type FleetEvent =
  | { t: 'join'; c: string; e?: number; r: string /** it predates this epoch */; p?: 1 }
  | { t: 'leave'; c: string; r: string }
  | { t: 'hb'; c: string; h: LeaderHeartbeat; r?: string }

/**
 * What the leader reads of a heartbeat: cache size, acks, origin health,
 * refusals, config and epoch, and the app's signals the gates compare
 * (counts and observations, with the interval they cover). Rewarm reports
 * go to the ledger's store directly.
 */
const LEADER_FIELDS = [
  'ackedSeq',
  'entries',
  'capacity',
  'latencyP50',
  'latencyP99',
  'loopDelayP50',
  'loopDelayP99',
  'errorRate',
  'calls',
  'rejected',
  'refusing',
  'configDigest',
  'epoch',
  'intervalMs',
  'metrics',
  'observed',
] as const satisfies readonly (keyof Heartbeat)[]
export type LeaderHeartbeat = Pick<Heartbeat, (typeof LEADER_FIELDS)[number]>

/**
 * The most bytes one heartbeat event takes. A heartbeat with a hundred
 * long-named signals can pass it: then the event leaves its signals out
 * (and, past the schema's bounds, keeps its cache figures only).
 */
export const HEARTBEAT_EVENT_BYTES = 8192

const SIGNALS: ReadonlySet<string> = new Set(['metrics', 'observed'])
const WITHOUT_SIGNALS = LEADER_FIELDS.filter((f) => !SIGNALS.has(f))
const CACHE_FIGURES = ['ackedSeq', 'entries', 'capacity'] as const

const eventOf = (
  clientId: string,
  hb: Heartbeat,
  replica: string,
  fields: readonly (keyof LeaderHeartbeat)[],
): string => {
  const h: Record<string, unknown> = {}
  for (const f of fields) if (hb[f] !== undefined) h[f] = hb[f]
  return JSON.stringify({ t: 'hb', c: clientId, h, r: replica } satisfies FleetEvent)
}

/**
 * A heartbeat as the leader gets it: its fields, at most
 * HEARTBEAT_EVENT_BYTES (else without its signals, else its cache figures).
 */
export const heartbeatEvent = (clientId: string, hb: Heartbeat, replica: string): string => {
  for (const fields of [LEADER_FIELDS, WITHOUT_SIGNALS]) {
    const event = eventOf(clientId, hb, replica, fields)
    if (Buffer.byteLength(event) <= HEARTBEAT_EVENT_BYTES) return event
  }
  return eventOf(clientId, hb, replica, CACHE_FIGURES)
}

export interface Apply {
  readonly engine: Engine
  /** The gates, fed every client's heartbeat once (this replica's own too). */
  readonly gates?: { heartbeat(clientId: string, hb: LeaderHeartbeat): void } | undefined
  /** The business watch, fed every heartbeat's counts once. */
  readonly business?:
    | { heartbeat(clientId: string, hb: LeaderHeartbeat, at: number): void }
    | undefined
  /** The engine's clients and their records in the store. */
  readonly clients: ClientRecords
  /** This replica's id: its own clients' heartbeats it took in already. */
  readonly self: string
  readonly fleet: FleetTracker
  readonly now: number
}

/** The leader applies one replica's event. */
export const applyFleetEvent = (e: FleetEvent, a: Apply): void => {
  if (e.t === 'join') {
    a.clients.joined(e.c, e.e, e.p === 1)
  } else if (e.t === 'leave') {
    a.engine.leave(e.c)
  } else if (e.t === 'hb') {
    a.clients.heard(e.c, e.h)
    a.gates?.heartbeat(e.c, e.h)
    a.business?.heartbeat(e.c, e.h, a.now)
    // Its own clients' health is counted once, by the rewarm loop, not again when the event
    // comes back; their acks are (counting them is idempotent), so one taken in while a
    // takeover was rebuilding the tracker still counts.
    if (e.r !== a.self) a.fleet.heartbeat(e.c, e.h, a.now)
    else if (e.h.ackedSeq !== undefined) a.fleet.ack(e.c, e.h.ackedSeq)
  }
}

/**
 * After events were lost (the stream was trimmed past what the leader read,
 * a leader that lagged): who is connected, from presence, the source of
 * truth. Connected clients the engine does not have join (as new, as a
 * restore takes them); clients it has that are not connected leave. Later
 * events still apply on top (joins and leaves are idempotent).
 */
export const resyncFleet = async (
  engine: Engine,
  clients: ClientRecords,
  store: Store,
  now: number,
): Promise<{ joined: number; left: number }> => {
  const connected = new Map<string, number | undefined>()
  for (const p of await readPresence(store, now)) if (p.alive) connected.set(p.clientId, p.record.e)
  const live = new Set<string>()
  for (const c of engine.clients()) if (c.live) live.add(c.id)
  let left = 0
  for (const id of live) {
    if (connected.has(id)) continue
    engine.leave(id)
    left++
  }
  let joined = 0
  for (const [id, entries] of connected) {
    if (live.has(id)) continue
    clients.joined(id, entries)
    joined++
  }
  return { joined, left }
}

/** Clients of replicas that died are gone: the engine stops waiting for them. */
export const reapDeparted = async (engine: Engine, store: Store, now: number): Promise<void> => {
  for (const p of await readPresence(store, now)) {
    // Only if it still points at the dead replica: the client may be back elsewhere by now.
    if (!p.alive && (await store.dropPresence(p.clientId, p.raw))) engine.leave(p.clientId)
  }
}

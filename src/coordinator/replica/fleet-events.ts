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
import type { PresenceRecord } from './restore.js'

/** One event: `c` the client, `r` the replica it is connected to. */
export type FleetEvent =
  | { t: 'join'; c: string; e?: number; r: string /** it predates this epoch */; p?: 1 }
  | { t: 'leave'; c: string; r: string }
  | { t: 'hb'; c: string; h: Heartbeat; r?: string }

export interface Apply {
  readonly engine: Engine
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
    // Its own clients' health is counted once, by the rewarm loop, not again when the event
    // comes back; their acks are (counting them is idempotent), so one taken in while a
    // takeover was rebuilding the tracker still counts.
    if (e.r !== a.self) a.fleet.heartbeat(e.c, e.h, a.now)
    else if (e.h.ackedSeq !== undefined) a.fleet.ack(e.c, e.h.ackedSeq)
  }
}

/** Clients of replicas that died are gone: the engine stops waiting for them. */
export const reapDeparted = async (engine: Engine, store: Store): Promise<void> => {
  const [presence, replicas] = await Promise.all([store.presence(), store.replicas()])
  const now = Date.now()
  for (const [clientId, raw] of Object.entries(presence)) {
    const p = JSON.parse(raw) as PresenceRecord
    // Only if it still points at the dead replica: the client may be back elsewhere by now.
    if ((replicas[p.r] ?? 0) <= now && (await store.dropPresence(clientId, raw)))
      engine.leave(clientId)
  }
}

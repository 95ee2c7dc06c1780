/**
 * The leader's consumer of the fleet's events (joins, leaves, heartbeats
 * that replicas publish), for one term. If the stream was trimmed past what
 * it read (a leader that lagged), who is connected is read again from
 * presence.
 */
import type { Engine } from '../../invalidation/engine.js'
import type { Store } from '../../store/store.js'
import type { BusinessWatch } from '../business.js'
import type { FleetTracker } from '../fleet.js'
import type { CoordinatorGates } from '../gates.js'
import type { ClientRecords } from './client-records.js'
import { applyFleetEvent, type FleetEvent, resyncFleet } from './fleet-events.js'

const TAIL_BLOCK_MS = 1000

export interface ConsumeOptions {
  readonly store: Store
  /** Read the events after this id. */
  readonly after: string
  /** This replica's id. */
  readonly self: string
  readonly fleet: FleetTracker
  readonly now: () => number
  readonly notice: (line: string) => void
  /** The term's engine and client records while the term lasts; undefined once it is over. */
  readonly term: () =>
    | {
        engine: Engine
        clients: ClientRecords
        gates?: CoordinatorGates | undefined
        business?: BusinessWatch | undefined
      }
    | undefined
}

export const consumeFleetEvents = async (o: ConsumeOptions): Promise<void> => {
  let last = o.after
  while (o.term()) {
    let events: { id: string; event: string }[]
    try {
      events = await o.store.events(last, 500, TAIL_BLOCK_MS)
    } catch {
      await pause()
      continue
    }
    // Trimmed past what this leader read (it lagged more than EVENTS_KEPT events): some
    // joins or leaves may be lost, so who is connected is read again after this batch.
    let lost = false
    if (events.length > 0) {
      try {
        lost = compareEventIds(await o.store.firstEventId(), last) > 0
      } catch {
        lost = true
      }
    }
    const term = o.term()
    if (!term) return
    const { engine, clients, gates, business } = term
    for (const { id, event } of events) {
      last = id
      let e: FleetEvent
      try {
        e = JSON.parse(event) as FleetEvent
      } catch {
        continue
      }
      applyFleetEvent(e, {
        engine,
        clients,
        gates,
        business,
        self: o.self,
        fleet: o.fleet,
        now: o.now(),
      })
    }
    while (lost && o.term()?.engine === engine) {
      try {
        const { joined, left } = await resyncFleet(engine, clients, o.store, o.now())
        o.notice(
          `slew: replica ${o.self}: the events stream was trimmed past what the leader read; who is connected was read again from presence (${joined} joined, ${left} left)`,
        )
        lost = false
      } catch {
        await pause()
      }
    }
  }
}

const pause = () => new Promise((r) => setTimeout(r, 200))

/** Stream ids (`<ms>-<seq>`) in order: negative, zero or positive. */
const compareEventIds = (a: string, b: string): number => {
  const [am = 0, as = 0] = a.split('-').map(Number)
  const [bm = 0, bs = 0] = b.split('-').map(Number)
  return am - bm || as - bs
}

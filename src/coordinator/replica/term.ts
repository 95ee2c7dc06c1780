/**
 * A leader's term begins: the engine rebuilt from what the store holds (its
 * rollouts, clients, deliveries and buckets), the fleet tracker's acked
 * counts going on from where the last leader left them, and a persister that
 * commits under this term's fencing token.
 */
import type { Config } from '../../config/schema.js'
import type { GateState } from '../../gates/watcher.js'
import { type Delivery, Engine } from '../../invalidation/engine.js'
import type { Clock } from '../../limiter/clock.js'
import type { GcraParams } from '../../limiter/gcra.js'
import type { Store } from '../../store/store.js'
import type { IncidentView, WatchHistory } from '../business.js'
import type { FleetTracker } from '../fleet.js'
import type { CoordinatorGates } from '../gates.js'
import type { Signer } from '../log.js'
import { engineConfigOf } from '../runtime.js'
import { ackedSeqs, ClientRecords } from './client-records.js'
import { loadDeliveries } from './delivery-records.js'
import { Persister } from './persister.js'
import { loadSnapshot, STATE } from './restore.js'

export interface Term {
  readonly engine: Engine
  readonly persister: Persister
  /** The term's gates, going on from where the last leader's left off. */
  readonly gates: CoordinatorGates
  readonly clients: ClientRecords
  /** The last fleet event before the term: its consumer reads on from there. */
  readonly lastEvent: string
  /** Rollouts restored. */
  readonly restored: number
  /** Each watched metric's history as the last leader kept it. */
  readonly watchHistory: ReadonlyMap<string, WatchHistory>
  /** The business watch's incidents as the last leader kept them, oldest first. */
  readonly incidents: readonly IncidentView[]
}

export interface TermOptions {
  readonly store: Store
  readonly fence: number
  /** The epoch the state read belongs to. */
  readonly epoch: string
  readonly config: Config
  readonly clock: Clock
  readonly signer: Signer
  readonly fleet: FleetTracker
  /** The term's gates, on its engine, keeping their state with the persister. */
  readonly gates: (engine: () => Engine | undefined, persister: Persister) => CoordinatorGates
  /** A delivery is in the log at `seq`. */
  readonly delivered: (d: Delivery, seq: number) => void
  /** The term is still this replica's (same epoch, same term, not closed) after the reads. */
  readonly current: () => boolean
  /** A commit failed: the term is over. */
  readonly failed: (error: unknown) => void
}

/** The term's engine, from the store; undefined if the term ended while the state was read. */
export const beginTerm = async (o: TermOptions): Promise<Term | undefined> => {
  const { store, config: c, clock } = o
  const lastEvent = await store.lastEventId()
  const {
    snapshot,
    records,
    gates: kept,
    watch,
    incidents,
  } = await loadSnapshot(store, c.fleet, clock.now())
  const deliveries = await loadDeliveries(store, new Set(snapshot.rollouts.map((r) => r.change.id)))
  const bounds = await store.bounds()
  // Without buckets in the store (a new fleet, or its state lost), assume they were spent.
  const coldStart = !(await store.stateField(STATE.head))
  if (!o.current()) return undefined
  // Acked counts go on from where the last leader left them, before anything is delivered.
  o.fleet.restore(deliveries, ackedSeqs(records))
  const persister = new Persister({
    store,
    fence: o.fence,
    epoch: o.epoch,
    signer: o.signer,
    logMaxLength: c.log.maxEntries,
    lastSeq: bounds.last,
    now: () => clock.now(),
    failed: o.failed,
  })
  let made: Engine | undefined
  const gates = o.gates(() => made, persister)
  const engine = new Engine({
    clock,
    config: engineConfigOf(c),
    epoch: o.epoch,
    coldStart,
    snapshot,
    gate: gates.gate,
    deliver: (d) => {
      o.delivered(d, persister.deliver(d))
      gates.delivered(d.change.id, d.clientIds)
    },
    onEvent: (e) => {
      persister.touch(e.rolloutId)
      gates.onEvent(e)
    },
  })
  made = engine
  persister.engine = engine
  // Each rollout's gate goes on from the state the last leader kept (its figures, its looks).
  for (const r of snapshot.rollouts) {
    const raw = kept.get(r.change.id)
    let state: GateState | undefined
    try {
      state = raw ? (JSON.parse(raw) as GateState) : undefined
    } catch {
      state = undefined
    }
    if (state && state.v !== 1) state = undefined
    const view = engine.list().find((v) => v.id === r.change.id)
    if (view) gates.resume(view, state, r.delivered)
  }
  const clients = new ClientRecords(engine, records, (id, r) => persister.client(id, r))
  const watchHistory = new Map<string, WatchHistory>()
  for (const [metric, raw] of watch) {
    try {
      watchHistory.set(metric, JSON.parse(raw) as WatchHistory)
    } catch {
      // Unreadable: that metric learns again.
    }
  }
  let keptIncidents: IncidentView[] = []
  try {
    const list: unknown = incidents ? JSON.parse(incidents) : []
    if (Array.isArray(list)) keptIncidents = list as IncidentView[]
  } catch {
    // Unreadable: the incidents' record starts again (the models go on from their history).
  }
  return {
    engine,
    persister,
    gates,
    clients,
    lastEvent,
    restored: snapshot.rollouts.length,
    watchHistory,
    incidents: keptIncidents,
  }
}

/**
 * The store's own budgets (refetch tokens, B2; admission, B3) start spent in
 * a new epoch, as the engine's do (coldStart): their burst may have gone out
 * just before the state was lost. Set by the replica that began the epoch;
 * a bucket used since is left as it is.
 */
export const spendBudgets = async (
  store: Store,
  budgets: readonly (readonly [bucket: string, params: GcraParams])[],
  now: number,
): Promise<void> => {
  for (const [bucket, p] of budgets) await store.take(bucket, p, p.burst, now)
}

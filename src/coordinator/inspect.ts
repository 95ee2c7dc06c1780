/**
 * Everything a request could change in a coordinator, in one comparable
 * value (`Coordinator.inspect()`): tests check a refused request changed
 * none of it.
 */
import type { Config } from '../config/schema.js'
import type { Engine } from '../invalidation/engine.js'
import type { EngineSnapshot } from '../invalidation/snapshot.js'
import type { Store } from '../store/store.js'
import type { RewarmLoop } from '../warmup/rewarm-loop.js'
import type { Admission } from './admission.js'
import type { FleetTracker } from './fleet.js'
import type { StreamHub } from './hub.js'
import type { RewarmLedger } from './rewarm-ledger.js'
import type { Runtime } from './runtime.js'
import { redact, type Settings } from './settings.js'

/** What `inspect()` returns: each part a request could change. */
export interface CoordinatorState {
  /** The engine's full snapshot (registry, rollouts, idempotency, config values, budget buckets' TATs and wake times), without its `at`. */
  readonly engine: Omit<EngineSnapshot, 'at'> | undefined
  /** Budgets, waves, leases… in force in the engine (a token rate set by the rewarm loop included). */
  readonly engineConfig: unknown
  /** The fleet tracker: heartbeats counted, each known client's last heartbeat, acks per rollout wave. */
  readonly fleet: {
    readonly beats: number
    readonly health: Record<string, unknown>
    readonly acked: Record<string, readonly number[]>
  }
  readonly admission: Admission['state']
  /** The delivery log's last sequence number. */
  readonly seq: number
  /** Every config version (who, why, what) and the config in force. */
  readonly config: { readonly versions: readonly unknown[]; readonly current: Config }
  /** The rewarm ledger: checkpoints written, and the stored checkpoints of every rollout. */
  readonly rewarm: {
    readonly rate: number
    readonly ledgerWrites: number
    readonly checkpoints: Record<string, Record<string, string>>
  }
  /** Clients with a stream open here. */
  readonly streams: readonly string[]
  readonly shuttingDown: boolean
}

export const inspectState = async (o: {
  readonly engine: Engine | undefined
  readonly hub: StreamHub
  readonly fleet: FleetTracker
  readonly admission: Admission
  readonly runtime: Runtime
  readonly settings: Settings
  readonly config: Config
  readonly rewarm: RewarmLoop
  readonly ledger: RewarmLedger
  readonly ledgerStore: Pick<Store, 'rewarm'>
  readonly shuttingDown: boolean
}): Promise<CoordinatorState> => {
  const { engine, hub, fleet } = o
  let snapshot: Omit<EngineSnapshot, 'at'> | undefined
  if (engine) {
    const { at: _at, ...rest } = engine.snapshot()
    snapshot = rest
  }
  const ids = new Set<string>([...hub.connections()].map((c) => c.clientId))
  for (const c of engine?.clients() ?? []) ids.add(c.id)
  const health: Record<string, unknown> = {}
  for (const id of [...ids].sort()) {
    const h = fleet.health(id)
    if (h) health[id] = h
  }
  const acked: Record<string, readonly number[]> = {}
  const checkpoints: Record<string, Record<string, string>> = {}
  for (const r of engine?.list() ?? []) {
    acked[r.id] = [...fleet.acked(r.id)]
    checkpoints[r.id] = await o.ledgerStore.rewarm(r.id)
  }
  return {
    engine: snapshot,
    engineConfig: engine?.config,
    fleet: { beats: fleet.beats, health, acked },
    admission: o.admission.state,
    seq: o.runtime.seq(),
    config: {
      versions: o.settings.history().map((v) => ({ ...v, config: redact(v.config) })),
      current: redact(o.config),
    },
    rewarm: { rate: o.rewarm.rate, ledgerWrites: o.ledger.writes, checkpoints },
    streams: [...ids].filter((id) => hub.has(id)).sort(),
    shuttingDown: o.shuttingDown,
  }
}

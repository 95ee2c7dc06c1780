/**
 * What differs between one coordinator on the memory store and several on
 * Redis: where admission, leases, the log and the fleet's presence live, and
 * whether the engine runs in this process. Routes talk to a Runtime.
 */
import type { Config } from '../config/schema.js'
import type { GateRecord } from '../gates/watcher.js'
import type { Engine, GateContext, GateResult, LeaseGrant } from '../invalidation/engine.js'
import { heldRampKeys } from '../invalidation/ramp.js'
import type { RolloutView } from '../invalidation/rollout.js'
import type { Clock } from '../limiter/clock.js'
import type { GcraParams } from '../limiter/gcra.js'
import type { TokenClass } from '../model/budget.js'
import type { Heartbeat } from '../protocol/messages.js'
import { problem } from '../protocol/problem.js'
import type { Store } from '../store/store.js'
import type { RolloutFacts } from '../watch/attribution.js'
import type { Admission, AdmissionDecision } from './admission.js'
import { BusinessWatch, type IncidentView, type WatchHistory } from './business.js'
import type { FleetTracker } from './fleet.js'
import { HttpProblem } from './http.js'
import type { StreamHub } from './hub.js'
import type { Signer } from './log.js'
import type { Metrics } from './metrics.js'
import type { Recall } from './recall.js'

export interface FleetMember {
  readonly clientId: string
  readonly replica?: string
  readonly connectedAt?: number
}

/** A stream just opened: who, and where it resumes from. */
export interface StreamOpen {
  readonly clientId: string
  /** The last sequence number it applied (Last-Event-ID or ?since=). */
  readonly since?: number | undefined
  /** The epoch that sequence number belongs to (?epoch=); absent: assume ours. */
  readonly epoch?: string | undefined
  /** What the client asked its hello to carry (?nonce=). */
  readonly nonce?: string | undefined
  /** Entries in its cache (?entries=). */
  readonly entries?: number | undefined
}

/** Whether this coordinator can do its work now (GET /readyz), and if not, why. */
export type Readiness =
  | { readonly ready: true }
  | { readonly ready: false; readonly reason: string }

export interface Runtime {
  readonly kind: 'memory' | 'redis'
  /** Does the engine run here now (so engine routes are answered here)? */
  readonly leading: boolean
  /** The engine, while it runs here (memory: always; Redis: on the leader). */
  readonly engine: Engine | undefined
  /** Where rewarm checkpoints live: on Redis they outlive this process; in memory, they live as long as it. */
  readonly store: Pick<Store, 'setRewarm' | 'rewarm' | 'rewarmOf'>
  /**
   * Start (once listening). On Redis: resolves once started, or — if Redis
   * cannot be reached within a few seconds — once it has said so, trying on
   * in the background.
   */
  start(): Promise<void>
  /** The live config changed (PUT /v1/config): the engine takes its part. */
  configure(next: Config): void
  /** Where the engine runs, when not here (undefined: no leader right now). */
  leaderUrl(): Promise<string | undefined>
  /** Admission control for a new stream (B3). */
  admit(clientId: string): Promise<AdmissionDecision>
  /**
   * The stream is open and in the hub: say hello, catch the client up (the
   * missed entries, a reset, or for a new client the config) and add it to
   * the fleet.
   */
  connected(open: StreamOpen): Promise<void>
  disconnected(clientId: string): void
  /** Refetch tokens (B2). */
  lease(clientId: string, want: number, cls: TokenClass): Promise<LeaseGrant>
  heartbeat(clientId: string, hb: Heartbeat): Promise<void>
  /**
   * May a checkpoint of `changeId` from `clientId` be kept? Only for a rewarm
   * that was sent to it and is not over for longer than `maxAgeMs` (on a
   * Redis follower: a change whose delivered set in the store names it).
   */
  sentRewarm(changeId: string, clientId: string, maxAgeMs: number): Promise<boolean>
  /** The rate and burst `lease` grants `cls` tokens at now (rewarm: the adaptive rate). */
  tokenBudget(cls: TokenClass): GcraParams
  /** Every connected client, fleet-wide. */
  fleet(): Promise<FleetMember[]>
  /** How many clients are connected, fleet-wide: cheap enough to answer every heartbeat with (at most a second old). */
  fleetSize(): Promise<number>
  /** The adaptive rewarm token rate (≤ the budget), set by the leader's control loop. */
  setRewarmRate(ratePerSec: number): void
  /** Resolves once what the engine just did is durable (at once on memory). */
  durable(): Promise<void>
  /** The latest log sequence number known here. */
  seq(): number
  /** What a rollout's gate saw and did (where the gates run). */
  gateRecord(rolloutId: string): GateRecord | undefined
  /** The heartbeat interval to ask of a client now: shorter while a gate compares it. */
  heartbeatMs(clientId: string): number | undefined
  /**
   * What a heartbeat's answer says of key sketches: 'want' (send a filter:
   * none is in use here), 'ok', or nothing where sketches are not used.
   */
  sketchAnswer?(clientId: string): 'want' | 'ok'
  /** Config keys whose ramps stand still now (a paused rollout ramps them): clients hold them. */
  heldRamps(): readonly string[]
  /** The business watch, where the engine runs and metrics are watched (`watch` config). */
  readonly business: BusinessWatch | undefined
  /** Ready to serve: on Redis, the store is reachable and a leader known. */
  readiness(): Promise<Readiness>
  close(): Promise<void>
}

/** What either runtime is built from: the coordinator's parts they share. */
export interface RuntimeParts {
  readonly config: Config
  /** The config in force (it changes with PUT /v1/config). */
  readonly current: () => Config
  readonly signer: Signer
  readonly clock: Clock
  readonly random: () => number
  readonly hub: StreamHub
  readonly fleet: FleetTracker
  readonly metrics: Metrics
  readonly admission: Admission
  readonly recall: Recall
  readonly gate?: ((ctx: GateContext) => GateResult) | undefined
  readonly notice: (line: string) => void
  /** This coordinator's URL, once listening. */
  readonly url: () => string | undefined
  /** A follower adopts the leader's live config. */
  readonly adopt: (config: Config) => void
}

/** The engine, where it runs here; a 503 (come back in a second) where it does not. */
export const engineOf = (runtime: Runtime): Engine => {
  const engine = runtime.engine
  if (engine) return engine
  throw new HttpProblem(
    problem('E_STORE_UNAVAILABLE', 'This replica does not lead the fleet right now', {
      retryAfterMs: 1000,
    }),
    { 'retry-after': '1' },
  )
}

/** The engine's part of the config. */
export const engineConfigOf = (c: Config) => ({
  fleet: c.fleet,
  shards: c.shards,
  budgets: c.budgets,
  waves: c.waves,
  leases: c.leases,
  defaultEntries: c.defaultEntries,
  retainFinished: c.retainFinished,
  sketches: c.sketches,
  configBytes: c.limits.configBytes,
})

/** How long a held-ramps answer is reused (heartbeats come thousands a second). */
const HELD_RAMPS_TTL_MS = 250

/** heldRampKeys of an engine's rollouts, computed at most every HELD_RAMPS_TTL_MS or after `invalidate`. */
export const heldRampsOf = (engine: () => Engine | undefined, clock: Clock) => {
  let cached: { at: number; keys: readonly string[] } | undefined
  const get = (): readonly string[] => {
    const now = clock.now()
    if (cached && now - cached.at < HELD_RAMPS_TTL_MS && now >= cached.at) return cached.keys
    const e = engine()
    cached = { at: now, keys: e ? heldRampKeys(e.list()) : [] }
    return cached.keys
  }
  /** A rollout changed state: the next answer is computed afresh. */
  const invalidate = () => {
    cached = undefined
  }
  return Object.assign(get, { invalidate })
}

/** What attribution needs of a rollout. */
const rolloutFacts = (r: RolloutView): RolloutFacts => {
  const last = r.waves.at(-1)
  return {
    id: r.id,
    kind: r.change.kind,
    state: r.state,
    createdAt: r.createdAt,
    endedAt: r.endedAt,
    // The last wave reaches every shard: its end over its fraction is the shard count.
    shards: last ? Math.round(last.hi / last.fraction) : 1,
    waves: r.waves.map((w) => ({ index: w.index, lo: w.lo, hi: w.hi, startedAt: w.startedAt })),
    rollbackOf: r.change.rollbackOf,
  }
}

/** The business watch of a runtime whose engine runs here (none without `watch` config). */
export const businessWatch = (
  o: RuntimeParts,
  engine: () => Engine | undefined,
  store?: {
    persist: (metric: string, history: WatchHistory) => void
    kept: ReadonlyMap<string, WatchHistory>
    persistIncidents: (incidents: readonly IncidentView[]) => void
    keptIncidents: readonly IncidentView[]
  },
): BusinessWatch | undefined => {
  const specs = o.config.watch
  if (specs.length === 0) return undefined
  return new BusinessWatch({
    specs,
    ...(store && {
      persist: store.persist,
      kept: store.kept,
      persistIncidents: store.persistIncidents,
      keptIncidents: store.keptIncidents,
    }),
    rollouts: () => (engine()?.list() ?? []).map(rolloutFacts),
    clock: o.clock,
    notice: o.notice,
    changed: (open) => o.metrics.incidentsOpen.set(open),
    pauseAll: (reason) => {
      const e = engine()
      if (!e) return []
      const paused: string[] = []
      for (const r of e.list()) {
        if (r.state !== 'rolling') continue
        try {
          e.pause(r.id, reason)
          paused.push(r.id)
        } catch {
          // It moved on meanwhile (completed): nothing to pause.
        }
      }
      return paused
    },
  })
}

/**
 * The gates where the engine runs (the memory runtime, or the Redis
 * leader): one GateWatcher fed by the engine's events and deliveries and by
 * every heartbeat, looking at each gate every `gates.heartbeatMs` and acting
 * through the engine (a config change rolled back, an invalidation or
 * rewarm paused). A gate given in code (`createCoordinator({ gate })`) is
 * asked too: both must pass. On Redis each gate's state is kept in the
 * store with its rollout, so a new leader goes on with it, and the rule for
 * which clients heartbeat faster is shared with the other replicas.
 */
import type { CheckEvidence } from '../gates/check.js'
import type { GatesConfig } from '../gates/options.js'
import { controlRule, type PaceRule } from '../gates/pacing.js'
import type { HeartbeatFigures } from '../gates/samples.js'
import { type GateRecord, type GateState, GateWatcher } from '../gates/watcher.js'
import type { Engine, EngineEvent, GateContext, GateResult } from '../invalidation/engine.js'
import type { RolloutView } from '../invalidation/rollout.js'
import { shardOf } from '../invalidation/shard.js'
import type { Clock, Timer } from '../model/clock.js'
import type { RuntimeParts } from './runtime.js'

export interface CoordinatorGates {
  /** The engine's `gate` option. */
  gate(ctx: GateContext): GateResult
  /** The engine's `onEvent` option. */
  onEvent(e: EngineEvent): void
  delivered(changeId: string, clientIds: readonly string[]): void
  heartbeat(clientId: string, hb: HeartbeatFigures): void
  /** What a rollout's gate saw and did. */
  record(rolloutId: string): GateRecord | undefined
  /** The heartbeat interval to ask of this client: shorter while a gate compares it. */
  heartbeatMs(clientId: string): number | undefined
  /** Go on with a rollout's gate from the state a previous leader kept. */
  resume(r: RolloutView, state: GateState | undefined, treated: Iterable<string>): void
  /** Which clients the gates pace now, as a rule other replicas apply. */
  paceRules(): PaceRule[]
  close(): void
}

export interface GatesParts {
  readonly settings: () => GatesConfig
  readonly clock: Clock
  /** The engine, once made (the watcher is made first: the engine takes its hooks). */
  readonly engine: () => Engine | undefined
  /** The clients connected now. */
  readonly clients: () => Iterable<string>
  /** A gate given in code, asked as well. */
  readonly extra?: ((ctx: GateContext) => GateResult) | undefined
  /** A gate acted: for the log and metrics. */
  readonly acted?: (rolloutId: string, record: GateRecord) => void
  /** Each look at a gate: which checks' verdicts changed, and what it saw (for metrics). */
  readonly look?: (record: GateRecord, changed: readonly CheckEvidence[]) => void
  /** Keep a gate's state (at most once per turn of the event loop per rollout). */
  readonly persist?: (rolloutId: string, state: GateState) => void
}

/** The stricter of two answers: a fail wins, then the longer wait. */
const both = (a: GateResult, b: GateResult): GateResult => {
  if (a === 'fail' || b === 'fail') return 'fail'
  if (a === 'pass') return b
  if (b === 'pass') return a
  return { retryInMs: Math.max(a.retryInMs, b.retryInMs) }
}

export const coordinatorGates = (p: GatesParts): CoordinatorGates => {
  const engineOrThrow = () => {
    const e = p.engine()
    if (!e) throw new Error('the engine is not running here')
    return e
  }
  const dirty = new Set<string>()
  const flush = () => {
    for (const id of dirty) {
      const state = watcher.stateOf(id)
      if (state) p.persist?.(id, state)
    }
    dirty.clear()
  }
  const watcher = new GateWatcher({
    settings: p.settings,
    onLook: (_id, record, changed) => p.look?.(record, changed),
    onChange: (id) => {
      if (!p.persist) return
      if (dirty.size === 0) queueMicrotask(flush)
      dirty.add(id)
    },
    actions: {
      pause: (id, reason) => {
        engineOrThrow().pause(id, reason)
        const r = watcher.record(id)
        if (r) p.acted?.(id, r)
      },
      rollback: (id, reason, urgent) => {
        engineOrThrow().rollback(id, reason, { urgent })
        const r = watcher.record(id)
        if (r) p.acted?.(id, r)
      },
      lastWaveClients: (id) => {
        const engine = p.engine()
        const r = view(id)
        const last = r?.waves[r.waves.length - 1]
        if (!engine || !r || !last) return []
        const shards = engine.config.shards
        return [...p.clients()].filter((c) => {
          const s = shardOf(c, id, shards)
          return s >= last.lo && s < last.hi
        })
      },
    },
  })
  function view(id: string): RolloutView | undefined {
    try {
      return p.engine()?.get(id)
    } catch {
      return undefined
    }
  }
  let timer: Timer | undefined
  const tick = () => {
    watcher.tick(p.clock.now())
    timer = p.clock.setTimer(p.settings().heartbeatMs, tick)
  }
  timer = p.clock.setTimer(p.settings().heartbeatMs, tick)
  return {
    gate: (ctx) => (p.extra ? both(p.extra(ctx), watcher.gate(ctx)) : watcher.gate(ctx)),
    onEvent: (e) => watcher.onEvent(e, view),
    delivered: (changeId, clientIds) => {
      for (const c of clientIds) watcher.delivered(changeId, c)
    },
    heartbeat: (clientId, hb) => watcher.heartbeat(clientId, hb, p.clock.now()),
    record: (id) => watcher.record(id),
    heartbeatMs: (clientId) => (watcher.watching(clientId) ? p.settings().heartbeatMs : undefined),
    resume: (r, state, treated) => watcher.resume(r, state, treated, p.clock.now()),
    paceRules: () => {
      const shards = p.engine()?.config.shards
      if (shards === undefined) return []
      const rules: PaceRule[] = []
      for (const g of watcher.pacing()) {
        const r = view(g.id)
        if (!r) continue
        const reached = r.wave >= 0 ? (r.waves[r.wave]?.hi ?? 0) : 0
        const last = r.waves[r.waves.length - 1]
        const control =
          g.mode === 'cohort' && last ? controlRule(last.lo, last.hi, g.control, g.id) : undefined
        const share = watcher.share
        rules.push({
          id: g.id,
          shards,
          reached,
          ...(control && { control }),
          ...(share < 1 && { share }),
        })
      }
      return rules
    },
    close: () => timer?.cancel(),
  }
}

/** The gates of a runtime: settings from the live config, verdicts and effects in the metrics. */
export const runtimeGates = (
  o: RuntimeParts,
  engine: () => Engine | undefined,
  clients: () => Iterable<string>,
  persist?: GatesParts['persist'],
): CoordinatorGates =>
  coordinatorGates({
    settings: () => o.current().gates,
    clock: o.clock,
    engine,
    clients,
    extra: o.gate,
    ...(persist && { persist }),
    acted: (id, record) => o.notice(`gate: ${record.action?.kind} ${id}: ${record.action?.reason}`),
    look: (record, changed) => {
      for (const c of changed) o.metrics.gateVerdicts.inc({ check: c.metric, verdict: c.verdict })
      for (const c of record.checks) {
        if (!c.effect) continue
        o.metrics.gateEffect.set({ check: c.metric, bound: 'estimate' }, c.effect.estimate)
        o.metrics.gateEffect.set({ check: c.metric, bound: 'lower' }, c.effect.lower)
        o.metrics.gateEffect.set({ check: c.metric, bound: 'upper' }, c.effect.upper)
      }
    },
  })

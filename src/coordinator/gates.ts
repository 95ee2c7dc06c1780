/**
 * The gates where the engine runs: one GateWatcher fed by the engine's
 * events and deliveries and by every heartbeat, looking at each gate every
 * `gates.heartbeatMs` and acting through the engine (a config change rolled
 * back, an invalidation or rewarm paused). A gate given in code
 * (`createCoordinator({ gate })`) is asked too: both must pass.
 */
import type { CheckEvidence } from '../gates/check.js'
import type { GatesConfig } from '../gates/options.js'
import { type GateRecord, GateWatcher } from '../gates/watcher.js'
import type { Engine, EngineEvent, GateContext, GateResult } from '../invalidation/engine.js'
import { shardOf } from '../invalidation/shard.js'
import type { Clock, Timer } from '../model/clock.js'
import type { Heartbeat } from '../protocol/messages.js'

export interface CoordinatorGates {
  /** The engine's `gate` option. */
  gate(ctx: GateContext): GateResult
  /** The engine's `onEvent` option. */
  onEvent(e: EngineEvent): void
  delivered(changeId: string, clientIds: readonly string[]): void
  heartbeat(clientId: string, hb: Heartbeat): void
  /** What a rollout's gate saw and did. */
  record(rolloutId: string): GateRecord | undefined
  /** The heartbeat interval to ask of this client: shorter while a gate compares it. */
  heartbeatMs(clientId: string): number | undefined
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
  const watcher = new GateWatcher({
    settings: p.settings,
    onLook: (_id, record, changed) => p.look?.(record, changed),
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
        const r = engine?.get(id)
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
  const view = (id: string) => {
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
    close: () => timer?.cancel(),
  }
}

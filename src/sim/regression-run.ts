/**
 * One run of the regression scenario: a config change rolled out over the
 * fleet by the real engine, watched by the real gate; the clients report
 * their metric each heartbeat interval, a little late.
 *
 * With `peer`, the same run (same seed, fleet, engine, waves, bakes and bad
 * change) is judged instead the way Flagger or Argo Rollouts judge a
 * canary: a threshold analysis of the treated clients' mean every
 * `intervalMs`, rolling back after `failures` failed checks in a row; the
 * treated clients report at the ordinary heartbeat (a Prometheus scrape).
 */
import type { z } from 'zod'
import { type GatesInput, gatesSchema } from '../gates/options.js'
import { GateWatcher } from '../gates/watcher.js'
import { Engine } from '../invalidation/engine.js'
import type { EngineEvent } from '../invalidation/events.js'
import { shardOf } from '../invalidation/shard.js'
import { VirtualClock } from '../limiter/virtual-clock.js'
import { clientId } from './fleet.js'
import type { RegressionRun, regressionSchema } from './regression.js'
import { mulberry32 } from './rng.js'

const TICK_MS = 100
/** Clients outside the cohorts report this often; this many of them are simulated. */
const ORDINARY_HEARTBEAT_MS = 10_000
const ORDINARY_SAMPLE = 1_000
/** A run ends by itself well before this (completion plus the watch after). */
const HORIZON_MS = 60 * 60_000
/** The change is submitted after a minute of baseline. */
const SUBMIT_AT = 60_000

export interface Sum {
  sum: number
  n: number
}

/** The peer's gate: a threshold analysis, as Flagger and Argo Rollouts run one. */
export interface PeerGate {
  /** Each check looks at the samples that arrived in the last `intervalMs`. */
  readonly intervalMs: number
  /** Failed checks in a row that roll the change back. */
  readonly failures: number
  /** A check fails when the treated clients' mean over its interval is above this. */
  readonly threshold: number
}

/** The metric's healthy level and its noise, by default per metric. */
export const levels = (o: z.output<typeof regressionSchema>) => ({
  base: o.base ?? (o.metric === 'errorRate' ? 0.01 : 120),
  noise: o.noise ?? (o.metric === 'errorRate' ? 100 : 0.2),
})

/**
 * One rollout of a (possibly bad) config change over the fleet, judged by
 * our gate, or by the peer's with `peer` (then without a trace).
 */
export const runOnce = (
  o: z.output<typeof regressionSchema>,
  gatesInput: GatesInput,
  runIndex: number,
  trace?: { treated: Sum[]; control: Sum[]; marks: { firstDelivery?: number; action?: number } },
  peer?: PeerGate,
): RegressionRun => {
  const random = mulberry32(o.seed * 1_000_003 + runIndex)
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  const { base, noise } = levels(o)
  const bad = base * (1 + o.effect)
  /** One interval's figure from a client that ran the bad value for `share` of it. */
  const sample = (share: number): number => {
    const level = base + (bad - base) * share
    if (o.metric === 'latencyP99') return level * Math.exp(noise * gauss())
    // Errors out of `noise` calls: the binomial's normal approximation, clamped.
    const calls = Math.round(noise)
    const p = Math.min(1, level)
    const k = Math.round(calls * p + Math.sqrt(calls * p * (1 - p)) * gauss())
    return Math.min(calls, Math.max(0, k)) / calls
  }

  const clock = new VirtualClock(0)
  const gates = gatesSchema.parse({ enabled: true, ...gatesInput })
  const shards = 100
  const ids = Array.from({ length: o.clients }, (_, i) => clientId(i))
  const applied = new Map<string, number>()
  /** When each client first ran the change, and when it was reverted (for exposure). */
  const exposureAt = new Map<string, number>()
  const revertedAt = new Map<string, number>()
  const deliveries: number[] = []
  let engine: Engine | undefined
  const watcher: GateWatcher | undefined = peer
    ? undefined
    : new GateWatcher({
        settings: () => gates,
        actions: {
          pause: (id, reason) => engine?.pause(id, reason),
          rollback: (id, reason, urgent) => engine?.rollback(id, reason, { urgent }),
          lastWaveClients: (id) => {
            const r = engine?.get(id)
            const last = r?.waves[r.waves.length - 1]
            if (!r || !last) return []
            return ids.filter((c) => {
              const s = shardOf(c, id, shards)
              return s >= last.lo && s < last.hi
            })
          },
        },
      })
  let changeId = ''
  let firstDelivery: number | undefined
  let lastWaveAt: number | undefined
  let secondWaveAt: number | undefined
  let completedAt: number | undefined
  let rollbackStart: number | undefined
  let rollbackEnd: number | undefined
  let toRevert = 0
  /** The peer's latest check, and when the change's current wave started. */
  let peerCheck: { at: number; passed: boolean } | undefined
  let peerWaveAt = Number.POSITIVE_INFINITY
  engine = new Engine({
    clock,
    config: {
      shards,
      waves: { steps: o.steps, bakeMs: o.bake },
      budgets: { config: { ratePerSec: o.budget, burst: Math.max(1, o.budget / 10) } },
    },
    // The peer promotes as Flagger and Argo Rollouts do: a wave passes once a check after it
    // started has passed, and holds while checks fail (until enough failures roll it back).
    gate: watcher
      ? (ctx) => watcher.gate(ctx)
      : (ctx) =>
          ctx.rollout.id !== changeId || (peerCheck?.passed && peerCheck.at > peerWaveAt)
            ? 'pass'
            : { retryInMs: 1_000 },
    deliver: (d) => {
      for (const c of d.clientIds) {
        deliveries.push(d.at)
        if (d.change.id === changeId) {
          firstDelivery ??= d.at
          applied.set(c, d.at)
          if (!exposureAt.has(c)) exposureAt.set(c, d.at)
          watcher?.delivered(changeId, c)
        } else if (d.change.rollbackOf === changeId && applied.delete(c)) revertedAt.set(c, d.at)
      }
    },
    onEvent: (e: EngineEvent) => {
      // The change's id, known from its start (its first wave may go out within submit()).
      if (e.type === 'state' && e.from === 'planned' && changeId === '') changeId = e.rolloutId
      watcher?.onEvent(e, (id) => engine?.get(id))
      if (e.type === 'wave' && e.phase === 'started' && e.rolloutId === changeId) {
        peerWaveAt = e.at
        if (e.wave === o.steps.length - 1) lastWaveAt = e.at
        if (e.wave === 1) secondWaveAt = e.at
      }
      if (e.type === 'state' && e.to === 'completed') {
        if (e.rolloutId === changeId) completedAt = e.at
        else if (engine?.get(e.rolloutId).change.rollbackOf === changeId) rollbackEnd = e.at
      }
    },
  })
  for (const id of ids) engine.join(id, { entries: 1 })
  // The fleet's baseline before the change: a minute of ordinary heartbeats from a sample.
  if (watcher)
    for (let t = 0; t < SUBMIT_AT; t += 1_000)
      for (let i = 0; i < Math.min(200, ids.length); i++)
        watcher.heartbeat(ids[i]!, figures(o.metric, sample(0)), t)
  clock.advanceTo(SUBMIT_AT)
  engine.submit({
    kind: 'config',
    values: { feature: 'on' },
    reason: 'sim',
    confirm: true,
  })

  let exposure = 0
  let acted: number | undefined
  let action: RegressionRun['action']
  // Everyone else heartbeats at the ordinary pace; a sample of them stands for the fleet.
  const ordinary = ids.slice(0, Math.min(ids.length, ORDINARY_SAMPLE))
  /** The peer's scrape: every client at the ordinary pace, each at its own phase (one slot per tick). */
  const slots = ORDINARY_HEARTBEAT_MS / TICK_MS
  const bySlot: string[][] = Array.from({ length: peer ? slots : 0 }, () => [])
  if (peer) for (const [i, id] of ids.entries()) bySlot[i % slots]!.push(id)
  /** The peer's analysis: samples by the interval they arrived in, the next check, failures in a row. */
  const windows = new Map<number, Sum>()
  let check = 0
  let failedInARow = 0
  /** Heartbeats sent and not yet arrived, in arrival order. */
  const inFlight: { at: number; id: string; x: number }[] = []
  const send = (id: string, t: number, intervalMs: number) => {
    const from = applied.get(id)
    const share = from === undefined ? 0 : Math.min(1, Math.max(0, (t - from) / intervalMs))
    const at = t + random() * o.lag
    inFlight.push({ at, id, x: sample(share) })
  }
  /** A gate acted at `at` (a rollback: the engine's, under the same budget class for both). */
  const actNow = (kind: 'rollback' | 'pause', at: number) => {
    acted = at
    action = kind
    if (kind === 'rollback') {
      rollbackStart = acted
      // Reverts may have gone out already within the gate's call to the engine.
      toRevert = applied.size + revertedAt.size
    }
  }
  const end = SUBMIT_AT + HORIZON_MS
  for (let t = SUBMIT_AT; t < end; t += TICK_MS) {
    const sent = inFlight.length
    const watched = watcher?.watchedClients() ?? new Set<string>()
    if (peer) {
      // Treated clients only: the canary's metric, scraped every ORDINARY_HEARTBEAT_MS.
      for (const id of bySlot[(t / TICK_MS) % slots]!)
        if (applied.has(id)) send(id, t, ORDINARY_HEARTBEAT_MS)
    } else {
      // Cohort clients report every gates.heartbeatMs on the interval just ended.
      if (t % gates.heartbeatMs === 0) for (const id of watched) send(id, t, gates.heartbeatMs)
      if (t % ORDINARY_HEARTBEAT_MS === 0)
        for (const id of ordinary) if (!watched.has(id)) send(id, t, ORDINARY_HEARTBEAT_MS)
    }
    if (inFlight.length > sent) inFlight.sort((a, b) => a.at - b.at)
    while (inFlight.length > 0 && inFlight[0]!.at <= t + TICK_MS) {
      const h = inFlight.shift()!
      clock.advanceTo(Math.max(clock.now(), h.at))
      if (peer) {
        const k = Math.floor((h.at - SUBMIT_AT) / peer.intervalMs)
        const w = windows.get(k) ?? { sum: 0, n: 0 }
        w.sum += h.x
        w.n++
        windows.set(k, w)
        continue
      }
      watcher?.heartbeat(h.id, figures(o.metric, h.x), h.at)
      if (trace && watched.has(h.id)) {
        const sec = Math.floor((h.at - SUBMIT_AT) / 1000)
        const into = applied.has(h.id) ? trace.treated : trace.control
        into[sec] ??= { sum: 0, n: 0 }
        into[sec].sum += h.x
        into[sec].n++
      }
    }
    clock.advanceTo(t + TICK_MS)
    if (peer) {
      // Each check: the mean of the interval just ended against the threshold; none without samples.
      while (acted === undefined && clock.now() >= SUBMIT_AT + (check + 1) * peer.intervalMs) {
        const w = windows.get(check)
        windows.delete(check)
        check++
        if (!w || w.n === 0) continue
        const passed = w.sum / w.n <= peer.threshold
        peerCheck = { at: clock.now(), passed }
        failedInARow = passed ? 0 : failedInARow + 1
        if (failedInARow >= peer.failures) {
          actNow('rollback', clock.now())
          engine.rollback(changeId, `peer: ${failedInARow} failed checks`, {
            urgent: gates.rollbackClass === 'urgent',
          })
        }
      }
      if (rollbackEnd !== undefined) break
      // Watched as long as ours watches: until the watch after completion ends.
      if (
        acted === undefined &&
        completedAt !== undefined &&
        clock.now() >= completedAt + gates.watchAfterMs
      )
        break
      continue
    }
    watcher?.tick(clock.now())
    const rec = watcher?.record(changeId)
    if (acted === undefined && rec?.action) actNow(rec.action.kind, rec.action.at)
    const state = engine.get(changeId).state
    if (rollbackEnd !== undefined || state === 'paused') break
    if (rollbackStart === undefined && !watcher?.isWatched(changeId) && state === 'completed') break
  }
  const stop = clock.now()
  if (trace) {
    if (firstDelivery !== undefined) trace.marks.firstDelivery = (firstDelivery - SUBMIT_AT) / 1000
    if (acted !== undefined) trace.marks.action = (acted - SUBMIT_AT) / 1000
  }
  // Each client from its first delivery until it was reverted, or the run's end.
  for (const [id, from] of exposureAt) {
    const until = applied.has(id) ? stop : Math.min(stop, revertedAt.get(id) ?? stop)
    exposure += Math.max(0, until - from) / 1000
  }
  let peak = 0
  for (let i = 0, j = 0; i < deliveries.length; i++) {
    while (deliveries[j]! < deliveries[i]! - 1000) j++
    peak = Math.max(peak, i - j + 1)
  }
  return {
    ...(acted !== undefined &&
      firstDelivery !== undefined && { detectionMs: acted - firstDelivery }),
    ...(action && { action }),
    early: acted !== undefined && (lastWaveAt === undefined || acted < lastWaveAt),
    inFirstWave: acted !== undefined && (secondWaveAt === undefined || acted < secondWaveAt),
    exposure: exposure / o.clients,
    ...(rollbackStart !== undefined &&
      rollbackEnd !== undefined && {
        rollbackMs: rollbackEnd - rollbackStart,
        idealRollbackMs: (toRevert / o.budget) * 1000,
      }),
    reverted: toRevert,
    peakPerSec: peak,
    finalState: engine.get(changeId).state,
  }
}

const figures = (metric: 'errorRate' | 'latencyP99', x: number) =>
  metric === 'errorRate' ? { calls: 1, errorRate: x } : { calls: 1, latencyP99: x }

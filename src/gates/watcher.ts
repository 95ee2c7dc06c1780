/**
 * Every rollout watched while it rolls: one gate per rollout, fed by the
 * engine's events and the fleet's heartbeats, asked by the engine after each
 * bake, and acting on its own the moment a regression shows (a config change
 * rolled back, an invalidation or rewarm paused; configurable per kind).
 *
 * A config change is judged by cohorts (its treated clients against a
 * control sample of the clients it reaches last); an invalidation or rewarm,
 * which loads the origin every client shares, by the fleet's origin health
 * against its own baseline from before the rollout. A completed config
 * change is watched for `watchAfterMs` more against that baseline. The
 * false-pause rate is split: half for the rollout, half for the watch after.
 * Pure: the caller feeds times, so the coordinator and simulator agree.
 */
import type { EngineEvent, GateContext, GateResult } from '../invalidation/events.js'
import { rampDurationMs, rampOf } from '../invalidation/ramp.js'
import type { RolloutView } from '../invalidation/rollout.js'
import type { CheckEvidence, CheckSpec, Verdict } from './check.js'
import { CohortGate, controlSample } from './cohorts.js'
import type { Moments } from './moments.js'
import type { GatesConfig } from './options.js'
import { paceRank, paceShare } from './pacing.js'
import {
  type GateKind,
  type GateMode,
  type GateRecord,
  GateRecords,
  type GateState,
} from './records.js'
import { type HeartbeatFigures, samplesOf } from './samples.js'
import { SampleWindow } from './window.js'

export type { GateKind, GateMode, GateRecord, GateState } from './records.js'

export interface WatchActions {
  pause(rolloutId: string, reason: string): void
  /** Roll back (config changes), under the urgent budget if `urgent`. */
  rollback(rolloutId: string, reason: string, urgent: boolean): void
  /** Live clients the rollout reaches in its last wave: where its control sample comes from. */
  lastWaveClients(rolloutId: string): Iterable<string>
}

const MAX_HISTORY = 50

/** Origin latency figures: what a rewarm's control loop holds at its target on purpose. */
const LATENCY_METRICS: ReadonlySet<string> = new Set(['latencyP50', 'latencyP99'])

interface Watched {
  readonly id: string
  readonly kind: GateKind
  readonly checks: readonly CheckSpec[]
  readonly baseline: Readonly<Record<string, Moments>>
  gate: CohortGate
  mode: GateMode
  record: GateRecord
  /** Clients sent the change (baseline mode: its gate counts every client, these are paced). */
  readonly reached: Set<string>
  /** Clients the change will have reached once its current wave is out. */
  expected: number
  /** The wave whose bake is being extended, and when the gate was first asked after it. */
  asked?: { wave: number; at: number }
  until?: number
  done: boolean
}

export interface GateWatcherOptions {
  /** The gates section as it is now (it is live). */
  settings(): GatesConfig
  actions: WatchActions
  /** Each look at a gate, with what it saw (for metrics). */
  onLook?: (rolloutId: string, record: GateRecord, changed: readonly CheckEvidence[]) => void
  /** A gate's state changed (to keep it: see stateOf). */
  onChange?: (rolloutId: string) => void
}

export class GateWatcher {
  readonly #watched = new Map<string, Watched>()
  readonly #records = new GateRecords()
  #window: SampleWindow
  /** See `share`. */
  #share = 1

  constructor(private readonly o: GateWatcherOptions) {
    this.#window = new SampleWindow(o.settings().baselineMs)
  }

  /** The rollout's gate record, while watched or after (latest few hundred kept). */
  record(rolloutId: string): GateRecord | undefined {
    return this.#records.get(rolloutId)
  }

  /** Is the rollout's gate still watching it (rolling, baking, or in the watch after)? */
  isWatched(rolloutId: string): boolean {
    return this.#watched.has(rolloutId)
  }

  /**
   * Should this client heartbeat at `gates.heartbeatMs`? It is in a cohort
   * being compared (a config change), or was sent a change judged against
   * the baseline, while that rollout rolls or bakes.
   */
  watching(clientId: string): boolean {
    if (paceRank(clientId) >= this.#share) return false
    for (const w of this.#watched.values()) {
      if (w.done) continue
      if (w.mode === 'cohort' && (w.gate.isControl(clientId) || w.gate.isTreated(clientId)))
        return true
      if (w.mode === 'baseline' && w.reached.has(clientId)) return true
    }
    return false
  }

  /** Every client `watching()` is true for. */
  watchedClients(): Set<string> {
    const out = new Set<string>()
    for (const id of this.#compared()) if (paceRank(id) < this.#share) out.add(id)
    return out
  }

  /** The share of compared clients paced (by paceRank), so at most `maxPaced` are; set each tick. */
  get share(): number {
    return this.#share
  }

  /** The share paced, for the clients compared now (each tick, and as a wave starts). */
  #reshare(): void {
    let compared = 0
    if (this.#watched.size > 0) {
      compared = this.#compared().size
      for (const w of this.#watched.values())
        if (!w.done && w.mode !== 'watch-after')
          compared += Math.max(
            0,
            w.expected - (w.mode === 'cohort' ? w.gate.treatedClients : w.reached.size),
          )
    }
    this.#share = paceShare(this.o.settings().maxPaced, compared)
  }

  /** Every client a gate compares now (cohorts of rolling config changes, reached clients of the rest). */
  #compared(): Set<string> {
    const out = new Set<string>()
    for (const w of this.#watched.values()) {
      if (w.done) continue
      if (w.mode === 'cohort') for (const id of w.gate.members()) out.add(id)
      if (w.mode === 'baseline') for (const id of w.reached) out.add(id)
    }
    return out
  }

  /** The gates watching now that pace clients: their mode and control cohort. */
  *pacing(): Iterable<{ id: string; mode: 'cohort' | 'baseline'; control: Iterable<string> }> {
    for (const w of this.#watched.values()) {
      if (w.done || w.mode === 'watch-after') continue
      yield { id: w.id, mode: w.mode, control: w.gate.controls() }
    }
  }

  /** A rollout's gate as the store keeps it (undefined: it has none). */
  stateOf(rolloutId: string): GateState | undefined {
    const w = this.#watched.get(rolloutId)
    if (!w) {
      return this.#records.ended(rolloutId)
    }
    return {
      v: 1,
      kind: w.kind,
      mode: w.mode,
      checks: w.checks,
      baseline: w.baseline,
      record: w.record,
      tallies: w.gate.tallies(),
      ...(w.asked && { asked: w.asked }),
      ...(w.until !== undefined && { until: w.until }),
      done: false,
    }
  }

  /**
   * Go on watching a rollout a previous leader watched, from the state it
   * kept (or, with none, as if it had just started: a baseline gate then has
   * no baseline and holds nothing). `treated`: the clients sent its change.
   */
  resume(
    r: RolloutView,
    state: GateState | undefined,
    treated: Iterable<string>,
    at: number,
  ): void {
    if (state?.done) {
      this.#records.end(r.id, state)
      this.#records.trim(this.#watched)
      return
    }
    const active = r.state === 'rolling' || r.state === 'paused'
    if (!state) {
      if (!active) return
      this.#start(r, at)
    } else {
      if (!active && !(r.state === 'completed' && state.mode === 'watch-after')) {
        this.#records.end(r.id, { ...state, done: true })
        return
      }
      const gate = this.#gate(
        state.checks,
        state.mode === 'cohort' ? undefined : state.baseline,
        this.#watchedAfter(r),
      )
      gate.restore(state.tallies)
      const w: Watched = {
        id: r.id,
        kind: state.kind,
        checks: state.checks,
        baseline: state.baseline,
        mode: state.mode,
        gate,
        record: state.record,
        reached: new Set(),
        expected: r.delivered + r.queued,
        ...(state.asked && { asked: { ...state.asked } }),
        ...(state.until !== undefined && { until: state.until }),
        done: false,
      }
      this.#watched.set(r.id, w)
      this.#records.set(r.id, w.record)
    }
    const w = this.#watched.get(r.id)
    if (!w) return
    for (const c of treated) this.delivered(r.id, c)
    if (w.mode === 'cohort')
      w.gate.addControl(
        controlSample(this.o.actions.lastWaveClients(r.id), r.delivered + r.queued, r.id),
      )
  }

  /** The engine's events, with a way to read the rollout they concern. */
  onEvent(e: EngineEvent, view: (id: string) => RolloutView | undefined): void {
    if (e.type === 'state') {
      if (e.from === 'planned' && e.to === 'rolling') {
        const r = view(e.rolloutId)
        if (r) this.#start(r, e.at)
      } else if (e.to === 'completed') this.#completed(e.rolloutId, e.at, view)
      else if (e.to === 'aborted' || e.to === 'rolling_back' || e.to === 'failed')
        this.#stop(e.rolloutId)
    } else if (e.type === 'wave' && e.phase === 'started') {
      const w = this.#watched.get(e.rolloutId)
      const r = view(e.rolloutId)
      if (w?.mode === 'cohort' && r) {
        // Keep the control as large as the treated cohort will be after this wave.
        const size = r.delivered + r.queued
        w.gate.addControl(controlSample(this.o.actions.lastWaveClients(r.id), size, r.id))
        // The wave's clients join the treated as they get it: counted in from its start, so the
        // share never paces more than maxPaced while the wave goes out.
        w.expected = size
        this.#reshare()
      }
    }
  }

  /** `clientId` was sent rollout `rolloutId`'s change. */
  delivered(rolloutId: string, clientId: string): void {
    const w = this.#watched.get(rolloutId)
    if (!w) return
    w.gate.applied(clientId)
    if (w.mode === 'baseline') w.reached.add(clientId)
  }

  heartbeat(clientId: string, hb: HeartbeatFigures, at: number): void {
    const samples = samplesOf(hb)
    if (Object.keys(samples).length === 0) return
    this.#window.add(samples, at)
    for (const w of this.#watched.values()) if (!w.done) w.gate.sample(clientId, samples, at)
  }

  /** Look at every gate now; act on a regression shown. */
  tick(now: number): void {
    this.#reshare()
    for (const w of [...this.#watched.values()]) {
      if (w.done) continue
      if (w.until !== undefined && now > w.until) {
        this.#stop(w.id)
        continue
      }
      const v = this.#look(w, now)
      if (v === 'fail') this.#act(w, now)
    }
  }

  /** The engine asks after a bake: go on, wait, or (having acted) stop. */
  gate(ctx: GateContext): GateResult {
    const w = this.#watched.get(ctx.rollout.id)
    if (!w || w.done) return 'pass'
    const s = this.o.settings()
    const v = this.#look(w, ctx.now)
    if (v === 'pass' || v === 'idle') return 'pass'
    if (v === 'fail') {
      this.#act(w, ctx.now)
      return { retryInMs: s.heartbeatMs }
    }
    if (w.asked?.wave !== ctx.wave) w.asked = { wave: ctx.wave, at: ctx.now }
    if (ctx.now - w.asked.at < s.maxBakeMs) return { retryInMs: s.heartbeatMs }
    if (s.onInconclusive === 'proceed') return 'pass'
    const reason = `gate ${v} for ${s.maxBakeMs} ms after wave ${ctx.wave}`
    this.#note(w, { kind: 'pause', reason, at: ctx.now })
    this.o.actions.pause(w.id, reason)
    return { retryInMs: s.heartbeatMs }
  }

  #start(r: RolloutView, at: number): void {
    if (this.#watched.has(r.id)) return
    const s = this.o.settings()
    // The baseline's span is live: a new one starts a new window.
    if (this.#window.windowMs !== s.baselineMs) this.#window = new SampleWindow(s.baselineMs)
    if (!s.enabled) return
    const own = r.gate
    const kind = r.change.kind
    // A rewarm's own control loop drives origin latency up to its target on purpose: the
    // default checks judge it on errors only (a rewarm's own gate may say otherwise).
    const defaults =
      kind === 'rewarm' ? s.checks.filter((c) => !LATENCY_METRICS.has(c.metric)) : s.checks
    const checks = own === false ? [] : (own?.checks ?? defaults)
    // A rollback is the remedy, not a change to judge.
    if (checks.length === 0 || r.change.rollbackOf) return
    const baseline = this.#window.snapshot(at)
    const mode: GateMode = kind === 'config' ? 'cohort' : 'baseline'
    const w: Watched = {
      id: r.id,
      kind,
      checks,
      baseline,
      mode,
      gate: this.#gate(checks, mode === 'cohort' ? undefined : baseline, this.#watchedAfter(r)),
      record: { mode, verdict: 'idle', checks: [], history: [] },
      reached: new Set(),
      expected: 0,
      done: false,
    }
    this.#watched.set(r.id, w)
    this.#records.set(r.id, w.record)
    this.#records.trim(this.#watched)
    this.o.onChange?.(r.id)
  }

  #completed(id: string, at: number, view: (id: string) => RolloutView | undefined): void {
    const w = this.#watched.get(id)
    if (!w) return
    const s = this.o.settings()
    // A ramp goes on moving on the clients after the last delivery: it is watched until it
    // reaches its target on the last client reached, and watchAfterMs more.
    const ramping = w.kind === 'config' ? longestRampMs(view(id)) : 0
    if (w.kind !== 'config' || s.watchAfterMs + ramping === 0) {
      this.#stop(id)
      return
    }
    // No control is left: the same checks against the fleet's own figures from before.
    w.mode = 'watch-after'
    w.gate = this.#gate(w.checks, w.baseline, true)
    w.reached.clear()
    w.until = at + ramping + s.watchAfterMs
    this.#set(w, { ...w.record, mode: 'watch-after', until: w.until })
  }

  /** Will the rollout be watched after it completes (so its alpha is split)? */
  #watchedAfter(r: RolloutView): boolean {
    return this.o.settings().watchAfterMs > 0 || longestRampMs(r) > 0
  }

  #stop(id: string): void {
    const w = this.#watched.get(id)
    if (!w) return
    this.#end(w)
  }

  /** The gate is over: its record stays (and is kept as ended), nothing more is watched. */
  #end(w: Watched): void {
    const state = this.stateOf(w.id)
    w.done = true
    this.#watched.delete(w.id)
    if (state) this.#records.end(w.id, { ...state, done: true })
    this.o.onChange?.(w.id)
  }

  /** A gate on `checks` at the rollout's share of alpha (half each for rolling and watching after). */
  #gate(
    checks: readonly CheckSpec[],
    baseline: Readonly<Record<string, Moments>> | undefined,
    watchedAfter: boolean,
  ): CohortGate {
    const s = this.o.settings()
    const alpha = watchedAfter ? s.alpha / 2 : s.alpha
    return new CohortGate(
      {
        checks,
        alpha,
        minSamples: s.minSamples,
        silentAfterMs: Math.max(3 * s.heartbeatMs, 5_000),
      },
      baseline,
    )
  }

  #look(w: Watched, now: number): Verdict {
    const report = w.gate.evaluate(now)
    const before = new Map(w.record.checks.map((c) => [c.metric, c.verdict]))
    const changed = report.checks.filter((c) => before.get(c.metric) !== c.verdict)
    const last = w.record.history[w.record.history.length - 1]
    const history =
      last?.verdict === report.verdict
        ? w.record.history
        : [...w.record.history, { verdict: report.verdict, at: now }].slice(-MAX_HISTORY)
    this.#set(w, { ...w.record, verdict: report.verdict, checks: report.checks, history })
    this.o.onLook?.(w.id, w.record, changed)
    return report.verdict
  }

  #act(w: Watched, now: number): void {
    if (w.record.action) return
    const s = this.o.settings()
    const failed = w.record.checks.filter((c) => c.verdict === 'fail').map((c) => c.metric)
    const reason = `gate failed on ${failed.join(', ')} (${w.mode})`
    const kind = w.mode === 'watch-after' ? 'rollback' : s.onFail[w.kind]
    this.#note(w, { kind, reason, at: now })
    this.#end(w)
    if (kind === 'rollback') this.o.actions.rollback(w.id, reason, s.rollbackClass === 'urgent')
    else this.o.actions.pause(w.id, reason)
  }

  #note(w: Watched, action: NonNullable<GateRecord['action']>): void {
    this.#set(w, { ...w.record, action })
  }

  #set(w: Watched, record: GateRecord): void {
    w.record = record
    this.#records.set(w.id, record)
    this.o.onChange?.(w.id)
  }
}

/** How long the change's slowest ramp takes on a client, ms (0: it ramps nothing). */
const longestRampMs = (r: RolloutView | undefined): number => {
  let ms = 0
  for (const v of Object.values(r?.change.values ?? {})) {
    const ramp = rampOf(v)
    if (ramp?.from === undefined) continue
    const d = rampDurationMs({ ...ramp, from: ramp.from })
    if (Number.isFinite(d)) ms = Math.max(ms, d)
  }
  return ms
}

/**
 * The cohort gate of one rollout: who is treated (applied the change), who
 * is the control (a sample of the clients reached last, so they stay
 * unreached longest), their samples per check, and the gate's verdict.
 * Pure and clock-free: the caller says when things happen, so the
 * coordinator and the simulator run the same code.
 *
 * With a `baseline` instead (figures from before the rollout, frozen), every
 * client's samples are treated and compared with that baseline: how a
 * change that loads the origin every client shares (an invalidation, a
 * rewarm) is judged, and how a change is watched once no control is left.
 */
import { fnv1a32 } from '../invalidation/shard.js'
import {
  type CheckEvidence,
  type CheckSpec,
  evaluateCheck,
  quietWhenSilent,
  type Verdict,
} from './check.js'
import { addSample, EMPTY, type Moments } from './moments.js'

export interface CohortGateOptions {
  readonly checks: readonly CheckSpec[]
  /** False-pause rate for the whole gate: split evenly between its checks. */
  readonly alpha: number
  readonly minSamples: number
  /** A cohort without a sample for this long is silent (ms). */
  readonly silentAfterMs: number
}

export interface GateReport {
  readonly verdict: Verdict
  readonly checks: readonly CheckEvidence[]
  readonly at: number
}

interface Tally {
  moments: Moments
  lastSampleAt?: number
}

/**
 * A gate's running figures, per cohort and metric: what a new leader needs
 * to go on with the same statistic (its looks and its false-pause budget)
 * where the last one left it. Who is in each cohort is not kept: treated is
 * who was delivered the change, the control is drawn again (the same draw).
 */
export interface GateTallies {
  readonly treated: Readonly<Record<string, Tally>>
  readonly control: Readonly<Record<string, Tally>>
}

/** Worst first: a fail wins, then missing data, then undecided. */
const ORDER: readonly Verdict[] = ['fail', 'no-data', 'inconclusive', 'pass', 'idle']

/** Combine check verdicts: the worst one, except that idle checks hold nothing. */
export const combine = (verdicts: readonly Verdict[]): Verdict => {
  for (const v of ORDER) if (verdicts.includes(v)) return v
  return 'idle'
}

/**
 * Up to `size` of `candidates`, the same ones for the same salt whatever the
 * order they come in (lowest salted hash first).
 */
export const controlSample = (candidates: Iterable<string>, size: number, salt: string): string[] =>
  [...candidates]
    .map((id) => [controlRank(id, salt), id] as const)
    .sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .slice(0, Math.max(0, size))
    .map(([, id]) => id)

/** Where a client ranks for a control sample salted `salt` (lower is drawn first). */
export const controlRank = (clientId: string, salt: string): number =>
  fnv1a32(`control:${salt}:${clientId}`)

/** A baseline gate's check with no figures from before: nothing to compare with, so nothing held. */
const noBaseline = (
  metric: string,
  treated: { clients: number; moments: Moments },
  at: number,
  alpha: number,
): CheckEvidence => ({
  metric,
  verdict: 'idle',
  reason: 'no baseline from before the rollout to compare with',
  treated: { clients: treated.clients, samples: treated.moments.n, mean: treated.moments.mean },
  control: { clients: 0, samples: 0, mean: 0 },
  threshold: 0,
  alpha,
  at,
})

export class CohortGate {
  readonly #treated = new Set<string>()
  readonly #control = new Set<string>()
  readonly #t = new Map<string, Tally>()
  readonly #c = new Map<string, Tally>()

  readonly #baseline: ReadonlyMap<string, Moments> | undefined

  constructor(
    readonly options: CohortGateOptions,
    baseline?: Readonly<Record<string, Moments>>,
  ) {
    this.#baseline = baseline && new Map(Object.entries(baseline))
  }

  /** Compared with a frozen baseline rather than a live control cohort. */
  get againstBaseline(): boolean {
    return this.#baseline !== undefined
  }

  get treatedClients(): number {
    return this.#treated.size
  }

  get controlClients(): number {
    return this.#control.size
  }

  /** Add clients to the control cohort (not those already treated). */
  addControl(ids: Iterable<string>): void {
    for (const id of ids) if (!this.#treated.has(id)) this.#control.add(id)
  }

  isControl(id: string): boolean {
    return this.#control.has(id)
  }

  /** Its running figures (see GateTallies). */
  tallies(): GateTallies {
    const copy = (m: Map<string, Tally>) =>
      Object.fromEntries([...m].map(([k, t]) => [k, { ...t }] as const))
    return { treated: copy(this.#t), control: copy(this.#c) }
  }

  /** Go on from figures a gate of the same checks kept (a new leader's first step). */
  restore(tallies: GateTallies): void {
    const known = new Set(this.options.checks.map((c) => c.metric))
    const load = (into: Map<string, Tally>, from: Readonly<Record<string, Tally>>) => {
      for (const [metric, t] of Object.entries(from))
        if (known.has(metric)) into.set(metric, { ...t })
    }
    load(this.#t, tallies.treated)
    load(this.#c, tallies.control)
  }

  /** The clients in either cohort. */
  *members(): Iterable<string> {
    yield* this.#treated
    yield* this.#control
  }

  /** The control cohort's clients. */
  controls(): Iterable<string> {
    return this.#control
  }

  isTreated(id: string): boolean {
    return this.#treated.has(id)
  }

  /** `clientId` applied the change: from now on its samples are treated. */
  applied(clientId: string): void {
    this.#control.delete(clientId)
    this.#treated.add(clientId)
  }

  /** A client's samples for one heartbeat interval, counted for its cohort if it has one. */
  sample(clientId: string, samples: Readonly<Record<string, number>>, at: number): void {
    const into =
      this.#baseline || this.#treated.has(clientId)
        ? this.#t
        : this.#control.has(clientId)
          ? this.#c
          : undefined
    if (!into) return
    if (this.#baseline) this.#treated.add(clientId)
    for (const check of this.options.checks) {
      const x = samples[check.metric]
      if (x === undefined) continue
      const t = into.get(check.metric) ?? { moments: EMPTY }
      t.moments = addSample(t.moments, x)
      t.lastSampleAt = at
      into.set(check.metric, t)
    }
  }

  evaluate(now: number): GateReport {
    const { checks, alpha, minSamples, silentAfterMs } = this.options
    const ctx = { alpha: alpha / Math.max(1, checks.length), minSamples, silentAfterMs, now }
    const evidence = checks.map((check) => {
      const t = this.#t.get(check.metric)
      const treated = {
        clients: this.#treated.size,
        moments: t?.moments ?? EMPTY,
        lastSampleAt: t?.lastSampleAt,
      }
      if (this.#baseline) {
        // A frozen baseline never goes silent; with none for a metric there is nothing to compare.
        const b = this.#baseline.get(check.metric) ?? EMPTY
        if (b.n < 2) return noBaseline(check.metric, treated, now, ctx.alpha)
        const frozen = { clients: 0, moments: b, lastSampleAt: b.n > 0 ? now : undefined }
        // No origin calls lately anywhere: a quiet fleet, as quiet as the baseline's "both".
        const quiet =
          quietWhenSilent(check.metric) &&
          (treated.lastSampleAt === undefined || now - treated.lastSampleAt > silentAfterMs)
        if (quiet)
          return {
            ...evaluateCheck(check, treated, frozen, ctx),
            verdict: 'idle' as const,
            reason: 'no origin calls lately',
          }
        return evaluateCheck(check, treated, frozen, ctx)
      }
      const c = this.#c.get(check.metric)
      const control = {
        clients: this.#control.size,
        moments: c?.moments ?? EMPTY,
        lastSampleAt: c?.lastSampleAt,
      }
      return evaluateCheck(check, treated, control, ctx)
    })
    return { verdict: combine(evidence.map((e) => e.verdict)), checks: evidence, at: now }
  }
}

/**
 * The regression scenario (issue 14, item 8): many config rollouts over a
 * fleet on the virtual clock, with the real engine and the real gate code.
 * Clients that apply a bad change get worse on one metric (`effect`: a
 * relative change of `base`); heartbeats carry one sample per client per
 * interval, arriving up to `lag` ms late. `effect: 0` is noise only: every
 * pause then is a false one.
 *
 * Per run: detection (first delivery of the change → the gate's action),
 * whether it was caught before the last wave, exposure (client-seconds on
 * the bad value ÷ fleet size), the rollback's time against its ideal
 * (clients to revert ÷ the rollback class's rate), and the peak delivery
 * rate against the budget.
 *
 * `peer: true` runs every rollout a second time, paired (same seed, fleet,
 * engine, waves, bakes, bad change and noise), judged by the field's
 * rollout controllers' threshold analysis (Flagger, Argo Rollouts): every
 * `peerIntervalMs` the treated clients' mean over that interval against a
 * fixed threshold halfway between the base and the bad level, rolling back
 * after `peerFailures` failed checks in a row. `peer` has the same figures,
 * and ours ÷ the peer's.
 */
import { z } from 'zod'
import type { GatesInput } from '../gates/options.js'
import { between, nonNegative, parseOptions, positive, positiveInt } from '../validate.js'
import { levels, type PeerGate, runOnce, type Sum } from './regression-run.js'

/** The bad change's default effect; the peer's threshold for noise-only runs is set by it too. */
const DEFAULT_EFFECT = 2

export const regressionSchema = z
  .strictObject({
    clients: positiveInt().default(10_000),
    runs: positiveInt().default(20),
    metric: z.enum(['errorRate', 'latencyP99']).default('errorRate'),
    /** The metric's healthy value. @default 0.01 (error rate), 120 (p99, ms) */
    base: positive().optional(),
    /** The bad change's effect, relative: bad = base × (1 + effect). 0: noise only. @default 2 */
    effect: nonNegative().default(DEFAULT_EFFECT),
    /** Noise: origin calls per interval (error rate), or the lognormal sigma (p99). */
    noise: positive().optional(),
    /** Heartbeats arrive up to this late, ms. @default 500 */
    lag: nonNegative().default(500),
    steps: z.array(positive()).min(1).default([0.01, 0.05, 0.25, 1]),
    bake: nonNegative().default(5_000),
    /** Config deliveries per second (the config budget). @default 1000 */
    budget: positive().default(1_000),
    seed: z.number().int().default(1),
    /** Also run the peer (a threshold analysis, as Flagger and Argo Rollouts), paired. @default false */
    peer: z.boolean().optional(),
    /** The peer's analysis interval, ms. @default 60000 (Flagger's) */
    peerIntervalMs: between(1_000, 86_400_000, { int: true }).optional(),
    /** Failed checks in a row after which the peer rolls back. @default 5 */
    peerFailures: between(1, 1_000, { int: true }).optional(),
  })
  .superRefine((o, ctx) => {
    for (const key of ['peerIntervalMs', 'peerFailures'] as const)
      if (o[key] !== undefined && !o.peer)
        ctx.addIssue({ code: 'custom', path: [key], message: 'not set (without `peer`)' })
  })
export type RegressionInput = z.input<typeof regressionSchema>

/** The first run's metric per second, by cohort, for the plot (NaN: no sample that second). */
export interface RegressionTrace {
  readonly treated: number[]
  readonly control: number[]
  /** Seconds from the trace's start: the first delivery, and the gate's action. */
  readonly firstDeliveryS?: number
  readonly actionS?: number
  readonly action?: string
}

export interface RegressionRun {
  /** ms from first delivery to the gate's action; undefined if none. */
  readonly detectionMs?: number
  readonly action?: 'rollback' | 'pause'
  /** Caught before the last wave started. */
  readonly early: boolean
  /** Caught before the second wave started. */
  readonly inFirstWave: boolean
  readonly exposure: number
  readonly rollbackMs?: number
  readonly idealRollbackMs?: number
  readonly reverted: number
  readonly peakPerSec: number
  readonly finalState: string
}

/** A gate's figures over the runs (ours, or the peer's). */
export interface RegressionFigures {
  readonly detectionMs: { p50?: number; p95?: number; p99?: number }
  /** With effect 0: runs that paused or rolled back ÷ runs. */
  readonly falsePauseRate: number
  /** With an effect: runs caught before the last wave ÷ runs. */
  readonly power: number
  /** Caught before the second wave started ÷ runs. */
  readonly caughtInFirstWave: number
  readonly exposure: { mean: number; max: number }
  readonly rollbackMs: { p50?: number; max?: number }
  readonly idealRollbackMs: { p50?: number; max?: number }
  /** Worst rollback time ÷ its ideal. */
  readonly rollbackRatio?: number
  readonly peakPerSec: number
}

/** The peer (`peer: true`): a threshold analysis, on the same runs. */
export interface RegressionPeer extends RegressionFigures {
  readonly model: 'threshold analysis (Flagger, Argo Rollouts)'
  readonly intervalMs: number
  readonly failures: number
  /** A check fails when the treated clients' mean over its interval is above this. */
  readonly threshold: number
  /** Runs it acted on at all (before or after the last wave) ÷ runs. */
  readonly caught: number
  /** Ours p95 detection ÷ the peer's (when both caught something). */
  readonly detectionRatio?: number
  /** Ours mean exposure ÷ the peer's. */
  readonly exposureRatio?: number
  readonly runs: readonly RegressionRun[]
}

export interface RegressionResult extends RegressionFigures {
  readonly scenario: 'regression'
  readonly options: z.output<typeof regressionSchema>
  readonly budget: number
  readonly runs: readonly RegressionRun[]
  readonly trace: RegressionTrace
  readonly peer?: RegressionPeer
}

const quantile = (xs: readonly number[], q: number): number | undefined => {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]
}

export const parseRegression = (input: unknown) => parseOptions(regressionSchema, input)

const perSecond = (xs: readonly (Sum | undefined)[]): number[] =>
  Array.from(xs, (x) => (x && x.n > 0 ? x.sum / x.n : Number.NaN))

export interface RegressionExtras {
  /** The gates section the coordinator would run with. @default its defaults */
  readonly gates?: GatesInput
  readonly onProgress?: (done: number, total: number) => void
}

const summarize = (
  o: z.output<typeof regressionSchema>,
  runs: readonly RegressionRun[],
): RegressionFigures => {
  const detections = runs.flatMap((r) => (r.detectionMs === undefined ? [] : [r.detectionMs]))
  const rollbacks = runs.flatMap((r) => (r.rollbackMs === undefined ? [] : [r.rollbackMs]))
  const ideals = runs.flatMap((r) => (r.idealRollbackMs === undefined ? [] : [r.idealRollbackMs]))
  const ratios = runs.flatMap((r) =>
    r.rollbackMs !== undefined && r.idealRollbackMs ? [r.rollbackMs / r.idealRollbackMs] : [],
  )
  const caught = runs.filter((r) => r.action !== undefined).length
  return {
    detectionMs: {
      p50: quantile(detections, 0.5),
      p95: quantile(detections, 0.95),
      p99: quantile(detections, 0.99),
    },
    falsePauseRate: o.effect === 0 ? caught / o.runs : 0,
    power: o.effect > 0 ? runs.filter((r) => r.early).length / o.runs : 0,
    caughtInFirstWave: runs.filter((r) => r.inFirstWave).length / o.runs,
    exposure: {
      mean: runs.reduce((s, r) => s + r.exposure, 0) / runs.length,
      max: Math.max(...runs.map((r) => r.exposure)),
    },
    rollbackMs: { p50: quantile(rollbacks, 0.5), max: quantile(rollbacks, 1) },
    idealRollbackMs: { p50: quantile(ideals, 0.5), max: quantile(ideals, 1) },
    ...(ratios.length > 0 && { rollbackRatio: Math.max(...ratios) }),
    peakPerSec: Math.max(...runs.map((r) => r.peakPerSec)),
  }
}

/** The peer's gate: halfway between the base and the bad level (the default effect's, for noise only). */
export const peerGate = (o: z.output<typeof regressionSchema>): PeerGate => {
  const { base } = levels(o)
  const effect = o.effect > 0 ? o.effect : DEFAULT_EFFECT
  return {
    intervalMs: o.peerIntervalMs ?? 60_000,
    failures: o.peerFailures ?? 5,
    threshold: base + (base * effect) / 2,
  }
}

export const simulateRegression = (
  input: RegressionInput = {},
  extras: RegressionExtras = {},
): RegressionResult => {
  const o = parseRegression(input)
  const gates = extras.gates ?? {}
  const peer = o.peer ? peerGate(o) : undefined
  const runs: RegressionRun[] = []
  const peerRuns: RegressionRun[] = []
  const trace = {
    treated: [] as Sum[],
    control: [] as Sum[],
    marks: {} as { firstDelivery?: number; action?: number },
  }
  for (let i = 0; i < o.runs; i++) {
    runs.push(runOnce(o, gates, i, i === 0 ? trace : undefined))
    // Paired: the same run index, so the same seed, fleet and bad change.
    if (peer) peerRuns.push(runOnce(o, gates, i, undefined, peer))
    extras.onProgress?.(i + 1, o.runs)
  }
  const ours = summarize(o, runs)
  const ratio = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && b > 0 ? { value: a / b } : undefined
  const peerFigures = peer && summarize(o, peerRuns)
  const detectionRatio = ratio(ours.detectionMs.p95, peerFigures?.detectionMs.p95)
  const exposureRatio = ratio(ours.exposure.mean, peerFigures?.exposure.mean)
  return {
    scenario: 'regression',
    options: o,
    ...ours,
    budget: o.budget,
    runs,
    trace: {
      treated: perSecond(trace.treated),
      control: perSecond(trace.control),
      ...(trace.marks.firstDelivery !== undefined && { firstDeliveryS: trace.marks.firstDelivery }),
      ...(trace.marks.action !== undefined && {
        actionS: trace.marks.action,
        action: runs[0]?.action,
      }),
    },
    ...(peer &&
      peerFigures && {
        peer: {
          model: 'threshold analysis (Flagger, Argo Rollouts)',
          ...peer,
          ...peerFigures,
          caught: peerRuns.filter((r) => r.action !== undefined).length / o.runs,
          ...(detectionRatio && { detectionRatio: detectionRatio.value }),
          ...(exposureRatio && { exposureRatio: exposureRatio.value }),
          runs: peerRuns,
        },
      }),
  }
}

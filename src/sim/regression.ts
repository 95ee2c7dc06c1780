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
 */
import { z } from 'zod'
import type { GatesInput } from '../gates/options.js'
import { nonNegative, parseOptions, positive, positiveInt } from '../validate.js'
import { runOnce, type Sum } from './regression-run.js'

export const regressionSchema = z.strictObject({
  clients: positiveInt().default(10_000),
  runs: positiveInt().default(20),
  metric: z.enum(['errorRate', 'latencyP99']).default('errorRate'),
  /** The metric's healthy value. @default 0.01 (error rate), 120 (p99, ms) */
  base: positive().optional(),
  /** The bad change's effect, relative: bad = base × (1 + effect). 0: noise only. @default 2 */
  effect: nonNegative().default(2),
  /** Noise: origin calls per interval (error rate), or the lognormal sigma (p99). */
  noise: positive().optional(),
  /** Heartbeats arrive up to this late, ms. @default 500 */
  lag: nonNegative().default(500),
  steps: z.array(positive()).min(1).default([0.01, 0.05, 0.25, 1]),
  bake: nonNegative().default(5_000),
  /** Config deliveries per second (the config budget). @default 1000 */
  budget: positive().default(1_000),
  seed: z.number().int().default(1),
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

export interface RegressionResult {
  readonly scenario: 'regression'
  readonly options: z.output<typeof regressionSchema>
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
  readonly budget: number
  readonly runs: readonly RegressionRun[]
  readonly trace: RegressionTrace
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

export const simulateRegression = (
  input: RegressionInput = {},
  extras: RegressionExtras = {},
): RegressionResult => {
  const o = parseRegression(input)
  const runs: RegressionRun[] = []
  const trace = {
    treated: [] as Sum[],
    control: [] as Sum[],
    marks: {} as { firstDelivery?: number; action?: number },
  }
  for (let i = 0; i < o.runs; i++) {
    runs.push(runOnce(o, extras.gates ?? {}, i, i === 0 ? trace : undefined))
    extras.onProgress?.(i + 1, o.runs)
  }
  const detections = runs.flatMap((r) => (r.detectionMs === undefined ? [] : [r.detectionMs]))
  const rollbacks = runs.flatMap((r) => (r.rollbackMs === undefined ? [] : [r.rollbackMs]))
  const ideals = runs.flatMap((r) => (r.idealRollbackMs === undefined ? [] : [r.idealRollbackMs]))
  const ratios = runs.flatMap((r) =>
    r.rollbackMs !== undefined && r.idealRollbackMs ? [r.rollbackMs / r.idealRollbackMs] : [],
  )
  const caught = runs.filter((r) => r.action !== undefined).length
  return {
    scenario: 'regression',
    options: o,
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
  }
}

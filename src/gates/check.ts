/**
 * One gate check's verdict from its two cohorts: the clients that applied the
 * change (treated) and those not yet reached (control). The verdict follows
 * the confidence sequence of the difference, oriented so that positive is
 * worse:
 *
 * - `fail`: the whole sequence lies above 0, a regression shown at level α;
 * - `pass`: both cohorts have `minSamples` and the sequence lies below the
 *   smallest effect that matters (a smaller regression does not matter);
 * - `inconclusive`: neither yet (too few samples, or too wide);
 * - `no-data`: a cohort with clients stopped reporting while the other
 *   reports, or both stopped reporting an app signal: hold, never roll back;
 * - `idle`: neither cohort has reported anything, or neither made origin
 *   calls lately (a quiet fleet: nothing to harm), or the control made
 *   none (nothing to compare with).
 */
import type { Moments } from './moments.js'
import { ORIGIN_METRICS } from './samples.js'
import { differenceInterval, type Interval } from './sequence.js'

export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'no-data' | 'idle'

export interface CheckSpec {
  /** `errorRate`, `latencyP99`, or an app signal's name. */
  readonly metric: string
  /** Which direction is a regression. */
  readonly worse: 'higher' | 'lower'
  /** The smallest regression that matters (> 0). */
  readonly minEffect: number
  /** `minEffect` is a fraction of the control's mean rather than absolute. */
  readonly relative?: boolean
}

export interface Cohort {
  /** Clients in the cohort. */
  readonly clients: number
  /** Its samples so far: one per client per heartbeat interval with activity. */
  readonly moments: Moments
  /** When its latest sample arrived (ms); undefined if none yet. */
  readonly lastSampleAt?: number | undefined
}

export interface CheckContext {
  /** The check's share of the rollout's false-pause rate. */
  readonly alpha: number
  readonly minSamples: number
  /** A cohort without a sample for this long is silent (ms). */
  readonly silentAfterMs: number
  readonly now: number
}

export interface CheckEvidence {
  readonly metric: string
  readonly verdict: Verdict
  /** Why, in words an operator reads. */
  readonly reason: string
  readonly treated: CohortFigures
  readonly control: CohortFigures
  /** Treated − control in the metric's units, with its interval; absent below two samples. */
  readonly effect?: Interval
  /** The regression that matters, in the metric's units (worse direction). */
  readonly threshold: number
  readonly alpha: number
  readonly at: number
}

export interface CohortFigures {
  readonly clients: number
  readonly samples: number
  readonly mean: number
}

const figures = (c: Cohort): CohortFigures => ({
  clients: c.clients,
  samples: c.moments.n,
  mean: c.moments.mean,
})

/** The regression that matters, in the metric's units. */
export const thresholdOf = (spec: CheckSpec, control: Moments): number => {
  const t = spec.relative ? spec.minEffect * Math.abs(control.mean) : spec.minEffect
  // A relative check over a control mean of 0 still needs a scale.
  return t > 0 ? t : spec.minEffect * Number.EPSILON
}

const silent = (c: Cohort, ctx: CheckContext): boolean =>
  c.lastSampleAt === undefined || ctx.now - c.lastSampleAt > ctx.silentAfterMs

/**
 * Origin figures are sampled only from intervals with origin calls: their
 * silence is a fleet with nothing to fetch (idle), not a signal that
 * stopped (no-data), as an app signal's silence is.
 */
export const quietWhenSilent = (metric: string): boolean =>
  (ORIGIN_METRICS as readonly string[]).includes(metric)

export const evaluateCheck = (
  spec: CheckSpec,
  treated: Cohort,
  control: Cohort,
  ctx: CheckContext,
): CheckEvidence => {
  const threshold = thresholdOf(spec, control.moments)
  const base = {
    metric: spec.metric,
    treated: figures(treated),
    control: figures(control),
    threshold,
    alpha: ctx.alpha,
    at: ctx.now,
  }
  const tSilent = silent(treated, ctx)
  const cSilent = silent(control, ctx)
  if (tSilent && cSilent) {
    if (treated.moments.n === 0 && control.moments.n === 0)
      return { ...base, verdict: 'idle', reason: 'no activity in either cohort' }
    if (quietWhenSilent(spec.metric))
      return { ...base, verdict: 'idle', reason: 'no origin calls in either cohort lately' }
    return { ...base, verdict: 'no-data', reason: 'both cohorts went silent' }
  }
  if (tSilent && treated.clients > 0)
    return { ...base, verdict: 'no-data', reason: 'the treated cohort is silent' }
  // A control making no origin calls is a quiet one (the treated may call more: refetches after
  // an invalidation): nothing to compare with, so nothing held. An app signal it stopped sending
  // is missing data.
  if (cSilent && control.clients > 0 && quietWhenSilent(spec.metric))
    return { ...base, verdict: 'idle', reason: 'no origin calls in the control cohort lately' }
  if (cSilent && control.clients > 0)
    return { ...base, verdict: 'no-data', reason: 'the control cohort is silent' }

  const sign = spec.worse === 'higher' ? 1 : -1
  const raw = differenceInterval(treated.moments, control.moments, {
    alpha: ctx.alpha,
    tau: threshold,
    varianceFloor: (threshold / 4) ** 2,
  })
  if (!raw) return { ...base, verdict: 'inconclusive', reason: 'collecting samples' }
  const effect = raw
  // Worse-oriented bounds: positive is a regression.
  const lower = sign > 0 ? raw.lower : -raw.upper
  const upper = sign > 0 ? raw.upper : -raw.lower
  const enough = treated.moments.n >= ctx.minSamples && control.moments.n >= ctx.minSamples
  if (!enough) return { ...base, effect, verdict: 'inconclusive', reason: 'collecting samples' }
  if (upper < threshold)
    return { ...base, effect, verdict: 'pass', reason: 'no regression that matters' }
  if (lower > 0) return { ...base, effect, verdict: 'fail', reason: 'regression shown' }
  return { ...base, effect, verdict: 'inconclusive', reason: 'not yet decided' }
}

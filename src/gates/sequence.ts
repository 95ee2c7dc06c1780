/**
 * An anytime-valid confidence sequence for the difference of two means
 * (treated − control), from the normal-mixture martingale (Robbins 1970;
 * as used for software deployments by Lindon et al., KDD'22).
 *
 * With the estimate d̂ ~ N(d, V) and a N(0, τ²) mixture over the effect, the
 * likelihood ratio Λ = √(V/(V+τ²)) · exp(τ²(d̂−d)² / (2V(V+τ²))) is a
 * martingale under d; by Ville's inequality it ever exceeds 1/α with
 * probability at most α, however often it is looked at. So
 *
 *   d̂ ± √( V(V+τ²)/τ² · (2 ln(1/α) + ln((V+τ²)/V)) )
 *
 * covers d at every look at once with probability ≥ 1 − α. V is estimated
 * from the samples (with a floor, so a cohort that happens to agree with
 * itself is not taken as certain); the false-alarm rate is checked
 * empirically by property tests on the gate.
 */
import { type Moments, variance } from './moments.js'

export interface Interval {
  /** The estimated difference, treated − control. */
  readonly estimate: number
  readonly lower: number
  readonly upper: number
}

export interface SequenceOptions {
  /** Miscoverage allowed over all looks. */
  readonly alpha: number
  /** Mixture scale: the size of effect the sequence is tuned to detect (> 0). */
  readonly tau: number
  /** Smallest per-sample variance assumed (≥ 0). */
  readonly varianceFloor: number
}

/** Half-width of the sequence at estimate variance `v` (v > 0). */
export const halfWidth = (v: number, o: Pick<SequenceOptions, 'alpha' | 'tau'>): number => {
  const t2 = o.tau * o.tau
  return Math.sqrt(((v * (v + t2)) / t2) * (2 * Math.log(1 / o.alpha) + Math.log((v + t2) / v)))
}

/**
 * The confidence sequence's interval for treated − control; undefined below
 * two samples in either cohort (no variance to estimate).
 */
export const differenceInterval = (
  treated: Moments,
  control: Moments,
  o: SequenceOptions,
): Interval | undefined => {
  if (treated.n < 2 || control.n < 2) return undefined
  const v =
    Math.max(variance(treated), o.varianceFloor) / treated.n +
    Math.max(variance(control), o.varianceFloor) / control.n
  const estimate = treated.mean - control.mean
  if (!(v > 0)) return { estimate, lower: estimate, upper: estimate }
  const h = halfWidth(v, o)
  return { estimate, lower: estimate - h, upper: estimate + h }
}

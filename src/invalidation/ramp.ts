/**
 * Config values that ramp instead of jump: a numeric value moves from its
 * previous value towards `to` at a bounded pace, either relative (at most
 * `perMinute` of the current value per minute, compounding) or absolute (at
 * most `stepPerMinute` units per minute). Each client computes the value
 * from the signed change and the time since it applied it, on its monotonic
 * clock: no extra messages, and a wall clock set forwards or backwards
 * cannot make a value jump (a monotonic reading that goes back holds it).
 */

export interface RampSpec {
  readonly from: number
  readonly to: number
  /** Relative pace: at most this fraction of the current value per minute (0 < p ≤ 1). */
  readonly perMinute?: number | undefined
  /** Absolute pace: at most this many units per minute (> 0). */
  readonly stepPerMinute?: number | undefined
}

const MINUTE_MS = 60_000

/** Why a ramp cannot be run, or undefined if it can. */
export const rampProblem = (r: RampSpec): string | undefined => {
  if (!Number.isFinite(r.from)) return 'a ramp needs a numeric value to start from'
  if (!Number.isFinite(r.to)) return '`ramp.to` must be a finite number'
  const rel = r.perMinute !== undefined
  const abs = r.stepPerMinute !== undefined
  if (rel === abs) return 'a ramp takes exactly one of `perMinute` and `stepPerMinute`'
  if (rel && !(r.perMinute! > 0 && r.perMinute! <= 1)) return '`ramp.perMinute` must be in (0, 1]'
  if (abs && !(r.stepPerMinute! > 0 && Number.isFinite(r.stepPerMinute!)))
    return '`ramp.stepPerMinute` must be a finite number > 0'
  if (rel && r.to !== r.from && (r.from === 0 || Math.sign(r.from) !== Math.sign(r.to)))
    return 'a relative ramp cannot cross or start from 0: use `stepPerMinute`'
  return undefined
}

/** The value `elapsedMs` after the ramp began (elapsed < 0 counts as 0). */
export const rampValue = (r: RampSpec, elapsedMs: number): number => {
  const minutes = Math.max(0, elapsedMs) / MINUTE_MS
  if (r.to === r.from) return r.to
  const up = r.to > r.from
  let v: number
  if (r.stepPerMinute !== undefined) {
    v = r.from + (up ? 1 : -1) * r.stepPerMinute * minutes
  } else {
    // |v| grows by (1+p) or shrinks by (1−p) per minute: always p·|v| at most.
    const p = r.perMinute!
    const grows = Math.abs(r.to) > Math.abs(r.from)
    v = r.from * (grows ? 1 + p : 1 - p) ** minutes
  }
  return up ? Math.min(v, r.to) : Math.max(v, r.to)
}

/** When the ramp reaches `to`, in ms after it began. */
export const rampDurationMs = (r: RampSpec): number => {
  if (r.to === r.from) return 0
  if (r.stepPerMinute !== undefined) return (Math.abs(r.to - r.from) / r.stepPerMinute) * MINUTE_MS
  const p = r.perMinute!
  const ratio = Math.abs(r.to) / Math.abs(r.from)
  return (Math.log(ratio) / Math.log(ratio > 1 ? 1 + p : 1 - p)) * MINUTE_MS
}

/**
 * A ramp as one client runs it: begun at its first reading of the monotonic
 * clock; later readings never move it back in time, so the value moves only
 * forwards along the ramp and never faster than its pace.
 */
export class RampRun {
  #start: number | undefined
  #elapsed = 0

  constructor(readonly spec: RampSpec) {}

  /** The value at monotonic time `mono` (ms). */
  at(mono: number): number {
    if (this.#start === undefined) this.#start = mono
    this.#elapsed = Math.max(this.#elapsed, mono - this.#start)
    return rampValue(this.spec, this.#elapsed)
  }

  get done(): boolean {
    return this.#elapsed >= rampDurationMs(this.spec)
  }
}

/**
 * Config values that ramp instead of jump: a numeric value moves from its
 * previous value towards `to` at a bounded pace, either relative (at most
 * `perMinute` of the current value per minute, compounding) or absolute (at
 * most `stepPerMinute` units per minute). Each client computes the value
 * from the signed change and the time since it applied it, on its monotonic
 * clock: no extra messages, and a wall clock set forwards or backwards
 * cannot make a value jump (a monotonic reading that goes back holds it).
 */
import { InvalidOptionError } from '../errors.js'

export interface RampSpec {
  readonly from: number
  readonly to: number
  /** Relative pace: at most this fraction of the current value per minute (0 < p ≤ 1). */
  readonly perMinute?: number | undefined
  /** Absolute pace: at most this many units per minute (> 0). */
  readonly stepPerMinute?: number | undefined
}

const MINUTE_MS = 60_000

/** A ramped config value on the wire: `{"ramp": {...}}` and nothing else. */
export interface RampValue {
  readonly ramp: {
    readonly to: number
    readonly from?: number
    readonly perMinute?: number
    readonly stepPerMinute?: number
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** The ramp a config value asks for, if it is one (`{ramp: {...}}` with numbers, nothing else). */
export const rampOf = (v: unknown): RampValue['ramp'] | undefined => {
  if (!isRecord(v) || Object.keys(v).length !== 1 || !isRecord(v.ramp)) return undefined
  const r = v.ramp
  if (typeof r.to !== 'number') return undefined
  for (const k of ['from', 'perMinute', 'stepPerMinute'] as const)
    if (r[k] !== undefined && typeof r[k] !== 'number') return undefined
  for (const k of Object.keys(r))
    if (!['to', 'from', 'perMinute', 'stepPerMinute'].includes(k)) return undefined
  return r as RampValue['ramp']
}

/** Anything that says `ramp` but is not a well-formed ramp (a typo must not pass as a plain value). */
const looksLikeRamp = (v: unknown): boolean => isRecord(v) && Object.hasOwn(v, 'ramp')

/**
 * A config change's values with each ramp made whole: `from` is the value
 * the fleet has now (a ramp cannot start from nothing), and the ramp must be
 * able to run. Returns the values, or a problem per key.
 */
export const resolveRamps = (
  values: Readonly<Record<string, unknown>>,
  current: Readonly<Record<string, unknown>>,
): { values: Record<string, unknown>; problems: { key: string; problem: string }[] } => {
  const out: Record<string, unknown> = {}
  const problems: { key: string; problem: string }[] = []
  for (const [key, v] of Object.entries(values)) {
    const spec = rampOf(v)
    if (!spec) {
      if (looksLikeRamp(v))
        problems.push({
          key,
          problem: 'a ramp is {"ramp": {"to": n, "perMinute": p | "stepPerMinute": s}}',
        })
      out[key] = v
      continue
    }
    const now = current[key]
    const nowRamp = rampOf(now)
    // Where the fleet is heading now: a number, or a ramp's target.
    const from = typeof now === 'number' ? now : nowRamp ? nowRamp.to : spec.from
    const full = { ...spec, from: from ?? Number.NaN }
    const problem = rampProblem(full)
    if (problem) problems.push({ key, problem })
    out[key] = { ramp: full }
  }
  return { values: out, problems }
}

/** resolveRamps, refusing a change with any ramp that cannot run (each key named). */
export const rampedValues = (
  values: Readonly<Record<string, unknown>>,
  current: Readonly<Record<string, unknown>>,
): Record<string, unknown> => {
  const r = resolveRamps(values, current)
  const first = r.problems[0]
  if (!first) return r.values
  const issues = r.problems.map((p) => ({
    field: `values.${p.key}`,
    rule: p.problem,
    value: values[p.key],
  }))
  throw new InvalidOptionError(`values.${first.key}`, first.problem, values[first.key], issues)
}

/**
 * The undo of a ramped change, walked back at the same pace: for each key
 * the change ramped, a ramp from its target to the value it replaced (a
 * number); other keys as they were.
 */
export const rampBack = (
  undo: Readonly<Record<string, unknown>>,
  change: Readonly<Record<string, unknown>>,
): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, before] of Object.entries(undo)) {
    const spec = rampOf(change[key])
    if (
      !spec ||
      typeof before !== 'number' ||
      rampProblem({ ...spec, from: spec.to, to: before })
    ) {
      out[key] = before
      continue
    }
    out[key] = {
      ramp: {
        from: spec.to,
        to: before,
        ...(spec.perMinute !== undefined && { perMinute: spec.perMinute }),
        ...(spec.stepPerMinute !== undefined && { stepPerMinute: spec.stepPerMinute }),
      },
    }
  }
  return out
}

/**
 * The keys whose ramps stand still now: those a paused config rollout
 * ramps (the gate paused it on a fail, or a person did). Clients hold them
 * where they are until it resumes.
 */
export const heldRampKeys = (
  rollouts: Iterable<{
    readonly state: string
    readonly change: { readonly kind: string; readonly values?: Readonly<Record<string, unknown>> }
  }>,
): string[] => {
  const keys = new Set<string>()
  for (const r of rollouts) {
    if (r.state !== 'paused' || r.change.kind !== 'config') continue
    for (const [key, v] of Object.entries(r.change.values ?? {})) if (rampOf(v)) keys.add(key)
  }
  return [...keys].sort()
}

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
  #held = false
  /** The latest monotonic reading: time held is time the ramp does not count. */
  #latest = Number.NEGATIVE_INFINITY

  constructor(readonly spec: RampSpec) {}

  /** The value at monotonic time `mono` (ms). */
  at(mono: number): number {
    if (this.#start === undefined) this.#start = mono
    this.#latest = Math.max(this.#latest, mono)
    if (!this.#held) this.#elapsed = Math.max(this.#elapsed, mono - this.#start)
    return rampValue(this.spec, this.#elapsed)
  }

  /** Stop where it is at `mono` (its rollout is paused): it moves no further until released. */
  hold(mono: number): void {
    if (this.#held) return
    this.at(mono)
    this.#held = true
  }

  /** Go on from where it was held, at the same pace. */
  release(mono: number): void {
    if (!this.#held) return
    this.at(mono)
    this.#held = false
    // From the latest reading: a reading back in time after it cannot count twice.
    this.#start = this.#latest - this.#elapsed
  }

  get held(): boolean {
    return this.#held
  }

  get done(): boolean {
    return this.#elapsed >= rampDurationMs(this.spec)
  }
}

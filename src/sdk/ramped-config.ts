/**
 * The config values a client runs, with ramps resolved: a value written
 * `{"ramp": {"to": 400, "perMinute": 0.1}}` (or `stepPerMinute`) moves from
 * the value the client had towards `to` at that pace, computed on read from
 * the client's monotonic clock; `get()` returns the number it is at now.
 * A ramp starts from where this client is (mid-ramp included), so a ramp
 * back (a rollback) retraces the way at the same pace, and the same ramp
 * seen again (a reconnect re-sends the config) does not start over.
 */
import { canonicalJson } from '../canonical-json.js'
import { RampRun, type RampSpec, rampOf, rampProblem } from '../invalidation/ramp.js'

interface Running {
  /** The wire value it came from, as canonical JSON: the same value again keeps it running. */
  readonly source: string
  readonly run: RampRun | undefined
  /** Where a ramp that cannot run (no number to start from, or a bad pace) stands: its target. */
  readonly fixed: number
}

export class RampedConfig {
  #raw: Readonly<Record<string, unknown>> = {}
  readonly #ramps = new Map<string, Running>()

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** The values as sent (ramps unresolved). */
  get raw(): Readonly<Record<string, unknown>> {
    return this.#raw
  }

  /** The client now runs `values` (a snapshot, or the result of applying a change). */
  set(values: Readonly<Record<string, unknown>>): void {
    const at = this.now()
    for (const [key, v] of Object.entries(values)) {
      const spec = rampOf(v)
      if (!spec) {
        this.#ramps.delete(key)
        continue
      }
      const source = canonicalJson(v)
      if (this.#ramps.get(key)?.source === source) continue
      // From where this client is: a number, or a ramp's value now.
      const current = this.#value(key, at)
      const from = typeof current === 'number' ? current : spec.from
      const full: RampSpec = { ...spec, from: from ?? Number.NaN }
      const run = rampProblem(full) === undefined ? new RampRun(full) : undefined
      run?.at(at)
      this.#ramps.set(key, { source, run, fixed: spec.to })
    }
    for (const key of this.#ramps.keys()) if (!Object.hasOwn(values, key)) this.#ramps.delete(key)
    this.#raw = values
  }

  get(key: string): unknown {
    return this.#value(key, this.now())
  }

  all(): Record<string, unknown> {
    const at = this.now()
    return Object.fromEntries(Object.keys(this.#raw).map((k) => [k, this.#value(k, at)]))
  }

  /**
   * Hold the ramps of `keys` where they are (their rollout is paused) and
   * let every other ramp go on from where it was held.
   */
  hold(keys: ReadonlySet<string>): void {
    const at = this.now()
    for (const [key, r] of this.#ramps) {
      if (keys.has(key)) r.run?.hold(at)
      else r.run?.release(at)
    }
  }

  /** Keys whose ramps have not reached their target yet. */
  ramping(): string[] {
    const at = this.now()
    const out: string[] = []
    for (const [key, r] of this.#ramps) {
      if (!r.run) continue
      r.run.at(at)
      if (!r.run.done) out.push(key)
    }
    return out
  }

  #value(key: string, at: number): unknown {
    const r = this.#ramps.get(key)
    if (!r) return this.#raw[key]
    return r.run ? r.run.at(at) : r.fixed
  }
}

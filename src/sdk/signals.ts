/**
 * The app's own signals for the gates and the business watch:
 * `count(name, n)` (orders, errors served, timeouts) and `observe(name,
 * value)` (latency-like samples). Each heartbeat carries what happened
 * since the last one: counts as deltas, observations as a mergeable summary
 * (count, sum, largest), so the coordinator can add clients together and
 * compare cohorts per interval. Bounded: at most MAX_SIGNALS names, each
 * figure clamped to what a heartbeat may carry.
 */
import { InvalidOptionError } from '../errors.js'
import { MAX_METRIC_VALUE, MAX_METRICS } from '../protocol/messages.js'

/** Most signal names one client reports (counts and observations together): what a heartbeat carries. */
export const MAX_SIGNALS = MAX_METRICS
/** Largest magnitude a count or an observation may have (the coordinator refuses more). */
export const MAX_SIGNAL_VALUE = MAX_METRIC_VALUE

export const SIGNAL_NAME = /^[\w.:-]{1,100}$/
const NAME_RULE = 'a signal name: 1-100 of [A-Za-z0-9_.:-]'

/** One interval's observations of a signal: mergeable by adding n and sum, taking the max. */
export interface Observed {
  readonly n: number
  readonly sum: number
  readonly max: number
}

export interface SignalFigures {
  /** Counts since the last heartbeat, per name. */
  readonly counts?: Record<string, number>
  /** Observations since the last heartbeat, per name. */
  readonly observed?: Record<string, Observed>
}

const clamp = (x: number) => Math.max(-MAX_SIGNAL_VALUE, Math.min(MAX_SIGNAL_VALUE, x))

export class Signals {
  readonly #counts = new Map<string, number>()
  readonly #observed = new Map<string, { n: number; sum: number; max: number }>()
  /** Names seen so far: a name keeps its place once used, so the set stays bounded. */
  readonly #names = new Set<string>()

  count(name: string, n = 1): void {
    this.#check(name, 'count', n)
    this.#counts.set(name, clamp((this.#counts.get(name) ?? 0) + n))
  }

  observe(name: string, value: number): void {
    this.#check(name, 'observe', value)
    const v = clamp(value)
    const o = this.#observed.get(name)
    if (o) {
      o.n++
      o.sum = clamp(o.sum + v)
      o.max = Math.max(o.max, v)
    } else this.#observed.set(name, { n: 1, sum: v, max: v })
  }

  /** What happened since the last call, then start over. */
  take(): SignalFigures {
    const out: { counts?: Record<string, number>; observed?: Record<string, Observed> } = {}
    if (this.#counts.size > 0) out.counts = Object.fromEntries(this.#counts)
    if (this.#observed.size > 0) out.observed = Object.fromEntries(this.#observed)
    this.#counts.clear()
    this.#observed.clear()
    return out
  }

  #check(name: string, what: 'count' | 'observe', value: number): void {
    if (typeof name !== 'string' || !SIGNAL_NAME.test(name))
      throw new InvalidOptionError(`${what}(name)`, NAME_RULE, name)
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new InvalidOptionError(`${what}(${name})`, 'a finite number', value)
    if (!this.#names.has(name)) {
      if (this.#names.size >= MAX_SIGNALS)
        throw new InvalidOptionError(
          `${what}(name)`,
          `one of at most ${MAX_SIGNALS} signal names`,
          name,
        )
      this.#names.add(name)
    }
  }
}

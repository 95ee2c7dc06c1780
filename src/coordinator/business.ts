/**
 * The business watch where the engine runs: each watched metric's series
 * (the SDK's counts from every heartbeat, and points posted to
 * /v1/metrics), judged each second by its MetricWatch. An incident pauses
 * every rolling rollout (no rollback: nothing yet says which change did
 * it); while one is open, a new push needs `confirm` and a reason. Paused
 * rollouts stay paused when it closes, until a person resumes them.
 */
import type { Clock, Timer } from '../model/clock.js'
import type { WatchEntry } from '../watch/options.js'
import { SeriesBook } from '../watch/series.js'
import { type Incident, MetricWatch } from '../watch/watch.js'

/** Incidents kept for the API, newest last. */
const MAX_INCIDENTS = 200
/** A heartbeat's counts arrive up to its interval late: a second is judged this long after it ends. */
const SETTLE_MS = 12_000
/** How far ahead of now a posted point may be (clocks differ a little). */
const AHEAD_MS = 5_000

export interface IncidentView {
  readonly id: string
  readonly metric: string
  readonly worse: 'lower' | 'higher'
  readonly openedAt: number
  /** When the deviation began (the evidence started building). */
  readonly since: number
  /** Means since it began: what the model expected, what was seen (per second). */
  readonly expected: number
  readonly observed: number
  readonly closedAt?: number
  /** The rollouts it paused. */
  readonly paused: readonly string[]
}

export interface WatchStatus {
  readonly metric: string
  readonly mode: 'seasonal' | 'level'
  /** Why the seasonal model is not in use yet. */
  readonly learning?: string
  readonly expected?: number
  readonly noise?: number
  /** The latest second judged, and its value. */
  readonly last?: { readonly at: number; readonly value: number }
  /** While the model learns the series (after a start or a leader change), no incident opens. */
  readonly warmingUp?: string
}

export interface BusinessParts {
  readonly specs: readonly WatchEntry[]
  readonly clock: Clock
  /** Pause every rolling rollout; the ids paused. */
  readonly pauseAll: (reason: string) => string[]
  readonly notice: (line: string) => void
  /** An incident opened or closed (for metrics). */
  readonly changed?: (open: number) => void
}

export class BusinessWatch {
  readonly #book: SeriesBook
  readonly #watches = new Map<string, MetricWatch>()
  readonly #incidents: IncidentView[] = []
  readonly #last = new Map<string, { at: number; value: number }>()
  #seq = 0
  #timer: Timer | undefined

  constructor(private readonly p: BusinessParts) {
    // Seconds before it started are not judged: their counts went to no one (or another leader).
    this.#book = new SeriesBook({
      settleMs: SETTLE_MS,
      maxMetrics: Math.max(1, p.specs.length),
      floorMs: p.clock.now(),
    })
    for (const s of p.specs)
      this.#watches.set(
        s.metric,
        new MetricWatch(s, {
          ...(s.period !== undefined && { periodMs: s.period }),
          history: s.history,
        }),
      )
    const tick = () => {
      this.tick(p.clock.now())
      this.#timer = p.clock.setTimer(1000, tick)
    }
    this.#timer = p.clock.setTimer(1000, tick)
  }

  /** Is `metric` watched? */
  watches(metric: string): boolean {
    return this.#watches.has(metric)
  }

  /** A heartbeat's counts, over the interval it covers. */
  heartbeat(
    hb: { metrics?: Readonly<Record<string, number>> | undefined; intervalMs?: number | undefined },
    at: number,
  ): void {
    const span = hb.intervalMs ?? 1000
    for (const [name, n] of Object.entries(hb.metrics ?? {}))
      if (this.#watches.has(name)) this.#book.spread(name, at - span, at, n)
  }

  /** Why a point for `metric` at `at` cannot be taken now, or undefined if it can. */
  refuses(metric: string, at: number): string | undefined {
    if (!this.#watches.has(metric))
      return `not a watched metric (watch: ${[...this.#watches.keys()].join(', ') || 'none'})`
    const now = this.p.clock.now()
    if (at > now + AHEAD_MS)
      return `more than ${AHEAD_MS / 1000} s ahead of the coordinator's clock`
    const judged = this.#last.get(metric)
    if (judged && at < judged.at + 1000) return 'a second already judged'
    if (at < now - this.#book.keepSteps * this.#book.stepMs) return 'older than the history kept'
    return undefined
  }

  /** Points already checked with `refuses`. */
  add(metric: string, at: number, value: number): void {
    this.#book.add(metric, at, value)
  }

  /** Judge every settled second. */
  tick(now: number): void {
    for (const [metric, watch] of this.#watches) {
      for (const step of this.#book.take(metric, now)) {
        const r = watch.step(step.at, step.value)
        this.#last.set(metric, step)
        if (r.opened) this.#opened(watch, r.opened)
        if (r.closed) this.#closed(metric, r.closed)
      }
    }
  }

  /** Incidents, newest first. */
  incidents(): readonly IncidentView[] {
    return [...this.#incidents].reverse()
  }

  open(): IncidentView[] {
    return this.#incidents.filter((i) => i.closedAt === undefined)
  }

  status(): WatchStatus[] {
    const now = this.p.clock.now()
    return [...this.#watches].map(([metric, w]) => {
      const e = w.model.expect(now)
      const last = this.#last.get(metric)
      const left = w.warmupLeft
      return {
        metric,
        mode: e.mode,
        ...(left > 0 && {
          warmingUp: `learning the series: ${left} more seconds before it judges`,
        }),
        ...(e.learning !== undefined && { learning: e.learning }),
        ...(Number.isFinite(e.expected) && { expected: e.expected }),
        ...(Number.isFinite(e.noise) && { noise: e.noise }),
        ...(last && { last }),
      }
    })
  }

  close(): void {
    this.#timer?.cancel()
  }

  #opened(watch: MetricWatch, i: Incident): void {
    const id = `inc-${++this.#seq}`
    const reason = `incident ${id}: ${i.metric} ${i.observed.toFixed(1)}/s, expected ${i.expected.toFixed(1)}/s`
    const paused = this.p.pauseAll(reason)
    this.#incidents.push({
      id,
      metric: i.metric,
      worse: watch.spec.worse,
      openedAt: i.openedAt,
      since: i.since,
      expected: i.expected,
      observed: i.observed,
      paused,
    })
    if (this.#incidents.length > MAX_INCIDENTS) this.#incidents.shift()
    this.p.notice(`slew: ${reason}; paused ${paused.length} rollouts`)
    this.p.changed?.(this.open().length)
  }

  #closed(metric: string, i: Incident): void {
    const k = this.#incidents.findLastIndex((x) => x.metric === metric && x.closedAt === undefined)
    if (k < 0) return
    const closedAt = i.closedAt ?? this.p.clock.now()
    this.#incidents[k] = { ...this.#incidents[k]!, closedAt }
    this.p.notice(`slew: incident ${this.#incidents[k]!.id} closed: ${metric} back within bounds`)
    this.p.changed?.(this.open().length)
  }
}

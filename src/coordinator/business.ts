/**
 * The business watch where the engine runs: each watched metric's series
 * (the SDK's counts from every heartbeat, and points posted to
 * /v1/metrics), judged each second by its MetricWatch. An incident pauses
 * every rolling rollout (no rollback: nothing yet says which change did
 * it); while one is open, a new push needs `confirm` and a reason. Paused
 * rollouts stay paused when it closes, until a person resumes them.
 *
 * Each incident names its likely culprit: the rollouts in flight when the
 * deviation began, ranked by how far their treated clients' counts differ
 * from their control's since then, and by when their waves started (see
 * Attribution); ranked again every few seconds while it is open.
 */
import type { Clock, Timer } from '../model/clock.js'
import { Attribution, type Ranking, type RolloutFacts } from '../watch/attribution.js'
import type { WatchEntry } from '../watch/options.js'
import { SeriesBook } from '../watch/series.js'
import { type Incident, MetricWatch } from '../watch/watch.js'

/** Incidents kept for the API, newest last. */
const MAX_INCIDENTS = 200
/** A heartbeat's counts arrive up to its interval late: a second is judged this long after it ends. */
const SETTLE_MS = 12_000
/** How far ahead of now a posted point may be (clocks differ a little). */
const AHEAD_MS = 5_000
/** Judged seconds kept per metric for a new leader's model (its warm-up, and more). */
const RECENT_STEPS = 900
/** How often the history is handed to `persist`. */
const PERSIST_EVERY_MS = 10_000
/** How often an open incident's suspects are ranked again. */
const RERANK_EVERY_MS = 5_000
/** Suspects kept per incident: a person reads the first line. */
const MAX_SUSPECTS = 5

/** A metric's history as the store keeps it (JSON): a new leader's model goes on from it. */
export interface WatchHistory {
  readonly v: 1
  /** Judged seconds, consecutive from `from` (ms). */
  readonly recent: { readonly from: number; readonly values: readonly number[] }
  /** The model's seasonal means, `[at, mean]`, oldest first. */
  readonly seasonal: readonly (readonly [number, number])[]
}

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
  /** The rollouts that may have caused it, most likely first (ranked again while it is open). */
  readonly attribution?: Ranking
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
  /** Each metric's history (see WatchHistory), every few seconds: where it is kept. */
  readonly persist?: (metric: string, history: WatchHistory) => void
  /** Histories a previous leader kept, by metric. */
  readonly kept?: ReadonlyMap<string, WatchHistory>
  /** The rollouts as they are now, for attribution (read every tick). */
  readonly rollouts?: () => readonly RolloutFacts[]
  /** The incidents changed (opened, closed, ranked anew): where they are kept. */
  readonly persistIncidents?: (incidents: readonly IncidentView[]) => void
  /** Incidents a previous leader kept, oldest first: open ones stay open. */
  readonly keptIncidents?: readonly IncidentView[]
}

export class BusinessWatch {
  readonly #book: SeriesBook
  readonly #watches = new Map<string, MetricWatch>()
  readonly #incidents: IncidentView[] = []
  readonly #attribution: Attribution
  #rankedAt = 0
  readonly #last = new Map<string, { at: number; value: number }>()
  /** Judged seconds per metric, the latest RECENT_STEPS (consecutive). */
  readonly #recent = new Map<string, { at: number; value: number }[]>()
  #seq = 0
  #timer: Timer | undefined
  #persistedAt: number

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
    this.#attribution = new Attribution({ metrics: p.specs })
    this.#resumeIncidents(p.keptIncidents ?? [])
    for (const [metric, h] of p.kept ?? []) this.#restore(metric, h)
    this.#persistedAt = p.clock.now()
    const tick = () => {
      const now = p.clock.now()
      this.tick(now)
      if (p.persist && now - this.#persistedAt >= PERSIST_EVERY_MS) {
        this.#persistedAt = now
        for (const metric of this.#watches.keys()) {
          const h = this.history(metric)
          if (h) p.persist(metric, h)
        }
      }
      this.#timer = p.clock.setTimer(1000, tick)
    }
    this.#timer = p.clock.setTimer(1000, tick)
  }

  /** Is `metric` watched? */
  watches(metric: string): boolean {
    return this.#watches.has(metric)
  }

  /** A client's heartbeat counts, over the interval it covers. */
  heartbeat(
    clientId: string,
    hb: { metrics?: Readonly<Record<string, number>> | undefined; intervalMs?: number | undefined },
    at: number,
  ): void {
    const span = hb.intervalMs ?? 1000
    const metrics = hb.metrics ?? {}
    // Counts go to the second they arrive in: spread over their interval, neighbouring seconds
    // would share one client's noise (no longer independent, the watch would see drift in
    // noise). A long interval (a client back after an outage) is spread: one second would spike.
    for (const [name, n] of Object.entries(metrics)) {
      if (!this.#watches.has(name)) continue
      if (span <= SETTLE_MS) this.#book.add(name, at, n)
      else this.#book.spread(name, at - span, at, n)
    }
    this.#attribution.sample(clientId, metrics, span, at)
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

  /** Judge every settled second; rank open incidents' suspects anew every few seconds. */
  tick(now: number): void {
    if (this.p.rollouts) this.#attribution.rollouts(this.p.rollouts(), now)
    for (const [metric, watch] of this.#watches) {
      for (const step of this.#book.take(metric, now)) {
        const r = watch.step(step.at, step.value)
        this.#last.set(metric, step)
        let recent = this.#recent.get(metric)
        if (!recent || (recent.length > 0 && recent.at(-1)!.at !== step.at - 1000)) {
          // A gap: what is kept must be consecutive seconds.
          recent = []
          this.#recent.set(metric, recent)
        }
        recent.push(step)
        if (recent.length > RECENT_STEPS) recent.shift()
        if (r.opened) this.#opened(watch, r.opened)
        if (r.closed) this.#closed(metric, r.closed)
      }
    }
    if (now - this.#rankedAt >= RERANK_EVERY_MS) {
      this.#rankedAt = now
      this.#rerank()
    }
  }

  /** A metric's history to keep (undefined: nothing judged yet). */
  history(metric: string): WatchHistory | undefined {
    const w = this.#watches.get(metric)
    const recent = this.#recent.get(metric)
    if (!w || !recent || recent.length === 0) return undefined
    return {
      v: 1,
      recent: { from: recent[0]!.at, values: recent.map((s) => s.value) },
      seasonal: w.model.seasonal().map((s) => [s.at, s.mean] as const),
    }
  }

  /** A new leader's model goes on from what the last one kept: its season, its recent seconds. */
  #restore(metric: string, h: WatchHistory): void {
    const w = this.#watches.get(metric)
    if (!w || h?.v !== 1 || !Array.isArray(h.recent?.values)) return
    const from = h.recent.from
    for (const [at, mean] of h.seasonal ?? []) if (at < from) w.model.seed(at, mean)
    const recent: { at: number; value: number }[] = []
    // Steps it had not learned because an incident was open are not learned now either.
    const open = this.#incidents.find((i) => i.metric === metric && i.closedAt === undefined)
    const learnUntil = open ? open.openedAt - w.learnAfterMs : Number.POSITIVE_INFINITY
    h.recent.values.forEach((value, i) => {
      const at = from + i * 1000
      w.replay(at, value, at < learnUntil)
      recent.push({ at, value })
    })
    this.#recent.set(metric, recent)
    const last = recent.at(-1)
    if (last) this.#last.set(metric, last)
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
    const attribution = this.#rank(i.metric, i.since)
    this.#incidents.push({
      id,
      metric: i.metric,
      worse: watch.spec.worse,
      openedAt: i.openedAt,
      since: i.since,
      expected: i.expected,
      observed: i.observed,
      paused,
      attribution,
    })
    if (this.#incidents.length > MAX_INCIDENTS) this.#incidents.shift()
    this.p.notice(
      `slew: ${reason}; paused ${paused.length} rollouts; ${attribution.summary}` +
        (attribution.suspects[0] ? `\n  ${attribution.suspects[0].line}` : ''),
    )
    this.p.changed?.(this.open().length)
    this.p.persistIncidents?.(this.#incidents)
  }

  /** The suspects of a deviation of `metric` since `since`, the first few. */
  #rank(metric: string, since: number): Ranking {
    const r = this.#attribution.rank({ metric, since }, Math.round(this.p.clock.now()))
    return { ...r, suspects: r.suspects.slice(0, MAX_SUSPECTS) }
  }

  /** Open incidents' suspects, ranked again on the evidence since (kept if the order changed). */
  #rerank(): void {
    let changed = false
    this.#incidents.forEach((inc, k) => {
      if (inc.closedAt !== undefined) return
      const attribution = this.#rank(inc.metric, inc.since)
      const order = (r: Ranking | undefined) => r?.suspects.map((s) => s.rolloutId).join()
      if (order(attribution) !== order(inc.attribution)) changed = true
      this.#incidents[k] = { ...inc, attribution }
    })
    if (changed) this.p.persistIncidents?.(this.#incidents)
  }

  /** A previous leader's incidents: kept for the API; open ones go on in their watch. */
  #resumeIncidents(kept: readonly IncidentView[]): void {
    for (const inc of kept.slice(-MAX_INCIDENTS)) {
      if (typeof inc?.id !== 'string' || typeof inc.metric !== 'string') continue
      this.#incidents.push(inc)
      const n = Number(inc.id.slice('inc-'.length))
      if (Number.isInteger(n)) this.#seq = Math.max(this.#seq, n)
      const w = this.#watches.get(inc.metric)
      if (inc.closedAt === undefined) {
        // No longer watched (the config changed): it cannot close, so it is closed now.
        if (!w)
          this.#incidents[this.#incidents.length - 1] = { ...inc, closedAt: this.p.clock.now() }
        else if (!w.open)
          w.resumeOpen({
            metric: inc.metric,
            openedAt: inc.openedAt,
            since: inc.since,
            expected: inc.expected,
            observed: inc.observed,
          })
      }
    }
    if (this.#incidents.length > 0) this.p.changed?.(this.open().length)
  }

  #closed(metric: string, i: Incident): void {
    const k = this.#incidents.findLastIndex((x) => x.metric === metric && x.closedAt === undefined)
    if (k < 0) return
    const closedAt = i.closedAt ?? this.p.clock.now()
    this.#incidents[k] = { ...this.#incidents[k]!, closedAt }
    this.p.notice(`slew: incident ${this.#incidents[k]!.id} closed: ${metric} back within bounds`)
    this.p.changed?.(this.open().length)
    this.p.persistIncidents?.(this.#incidents)
  }
}

/**
 * One run of the business scenario on a virtual timeline of one-second
 * steps: the real watch (`MetricWatch`, built as the coordinator builds it)
 * judges the fleet-wide series, each second when the coordinator would
 * judge it (SETTLE_MS after it ends); the real `Attribution` takes the
 * clients' heartbeats while a window's rollouts are in flight and ranks
 * each incident the moment it opens, and 30 s later. The warm-up is
 * learned, not judged (see below). The series is one Poisson process:
 * counts per second outside the windows, the clients' events inside.
 */
import { Attribution, type Ranking } from '../watch/attribution.js'
import type { WatchEntry } from '../watch/options.js'
import { MetricWatch } from '../watch/watch.js'
import { SimulatedClients } from './business-clients.js'
import { changesOf, factsAt, planWindows, type Window } from './business-plan.js'
import {
  baseRates,
  clientWeights,
  drawPromotions,
  MINUTE_MS,
  type Promotion,
  poissonFrom,
  promotionEnd,
  SECOND_MS,
  WEEK_MS,
} from './business-series.js'
import { type BusinessTrace, newTrace, record } from './business-trace.js'
import { mulberry32 } from './rng.js'

/**
 * The coordinator judges a second this long after it ends (SETTLE_MS in
 * coordinator/business.ts, which sim/ may not import): heartbeats carry
 * their counts up to an interval late.
 */
export const SETTLE_MS = 12_000
/** The second ranking comes this long after the first. */
export const RERANK_AFTER_MS = 30_000
/** A false incident this soon after a promotion's end is counted as the promotion's. */
const AFTER_PROMOTION_MS = 30 * MINUTE_MS
/** A top suspect this many standard errors worse than its control is named the culprit (Attribution's CONVINCING_Z). */
export const CONVINCING_Z = 3

export interface RunOptions {
  readonly seed: number
  readonly rate: number
  readonly drop: number
  readonly incidents: number
  readonly rolloutShare: number
  readonly clients: number
  readonly clientSigma: number
  readonly promotions: number
  /** The warm-up (history periods) and the judged part, ms. */
  readonly warmupMs: number
  readonly judgedMs: number
  /** The watch as configured (`watch` config entry). */
  readonly entry: WatchEntry
}

export interface Detection {
  readonly cause: 'rollout' | 'fleet'
  /** The opening step's time − the injected start. */
  readonly detectionMs: number
  /** Top suspect is the culprit (rollout-caused), when it opened and 30 s later. */
  readonly attributed?: boolean
  readonly attributedAfter30s?: boolean
  /** The top suspect convincingly worse than its control (a fleet-wide incident: wrongly). */
  readonly blamed?: boolean
  readonly blamedAfter30s?: boolean
  /** How long the incident stayed open after the drop ended, ms (to the run's end if it never closed). */
  readonly openAfterEndMs?: number
}

export interface FalseIncident {
  readonly seed: number
  /** The opening step, ms from the run's start, and when its deviation began. */
  readonly at: number
  readonly since: number
  /** Means since the deviation began, per second. */
  readonly expected: number
  readonly observed: number
  /** It opened during a promotion or within AFTER_PROMOTION_MS of its end: that promotion's start. */
  readonly promotionAt?: number
  /** The attribution named a rollout as its culprit (rollouts were in flight). */
  readonly blamed?: boolean
  /** How long it stayed open, ms (to the run's end if it never closed). */
  readonly openMs?: number
}

export interface RunResult {
  readonly seed: number
  readonly injected: number
  readonly detections: readonly Detection[]
  readonly missed: number
  /** Missed drops that began while an incident opened before them was still open (none can open). */
  readonly missedWhileOpen: number
  readonly falseIncidents: readonly FalseIncident[]
  /** Opened again within an injected incident already detected. */
  readonly reopened: number
  /** The judged part less the injected incidents (start to end + clearMs), weeks. */
  readonly noiseWeeks: number
  readonly promotions: number
  readonly trace?: BusinessTrace
}

export const runBusiness = (o: RunOptions, withTrace: boolean): RunResult => {
  const { entry } = o
  const totalMs = o.warmupMs + o.judgedMs
  const steps = Math.ceil(totalMs / SECOND_MS)
  const weights = clientWeights(o.seed * 7 + 1, o.clients, o.clientSigma)
  const promotions = drawPromotions(o.seed * 7 + 2, o.promotions, totalMs)
  const base = baseRates(o.rate, steps, promotions)
  const windows = planWindows({
    seed: o.seed * 7 + 3,
    drop: o.drop,
    incidents: o.incidents,
    rolloutShare: o.rolloutShare,
    judgedFrom: o.warmupMs,
    totalMs,
    weights,
  })
  const injected = windows.flatMap((w) => (w.incident ? [w.incident] : []))
  /** The fleet's mean rate each second, incidents included. */
  const level = Float64Array.from(base)
  for (const i of injected)
    for (let k = i.start / SECOND_MS; k < i.end / SECOND_MS; k++) level[k] = base[k]! * (1 - o.drop)
  const count = poissonFrom(mulberry32(o.seed * 7 + 4))
  const clients = new SimulatedClients({ seed: o.seed * 7 + 5, weights, base, level })

  const watch = new MetricWatch(entry, {
    ...(entry.period !== undefined && { periodMs: entry.period }),
    history: entry.history,
  })
  const attribution = new Attribution({ metrics: [{ metric: entry.metric, worse: entry.worse }] })
  const judgedAt = (step: number) => step + SECOND_MS + SETTLE_MS
  const rank = (since: number, now: number): Ranking =>
    attribution.rank({ metric: entry.metric, since }, now)
  const convincing = (r: Ranking) => (r.suspects[0]?.effect?.z ?? 0) >= CONVINCING_Z
  const beat = (id: string, n: number, intervalMs: number, at: number) =>
    attribution.sample(id, { [entry.metric]: n }, intervalMs, at)

  const detections: Detection[] = []
  const detected = new Set<number>()
  const falseIncidents: FalseIncident[] = []
  let reopened = 0
  /** The false incident open now, if any: how long it stays open is part of its cost. */
  let openFalse: { -readonly [K in keyof FalseIncident]: FalseIncident[K] } | undefined
  /** The detection open now, if any, and its drop's end. */
  let openHit: { d: { openAfterEndMs?: number }; end: number } | undefined
  /** When each incident opened (its step), and when it closed. */
  const spans: { from: number; until: number }[] = []
  /** Rankings due 30 s after an incident opened. */
  const due: { at: number; since: number; done: (r: Ranking) => void }[] = []
  /** The window whose clients are simulated: its rollouts' changes, and when it stops. */
  let active: { w: Window; changes: readonly number[]; changed: number; doneAt: number } | undefined
  let nextWindow = 0
  const trace = withTrace ? newTrace(o.seed, injected, entry.clearMs) : undefined

  const end = judgedAt((steps - 1) * SECOND_MS)
  for (let now = 0; now <= end; now += SECOND_MS) {
    if (active && now >= active.doneAt && due.length === 0) {
      clients.stop(now)
      active = undefined
    }
    const w = windows[nextWindow]
    if (!active && w && w.from <= now) {
      nextWindow++
      clients.start(w)
      const last = w.incident ? w.incident.end + entry.clearMs : 0
      active = {
        w,
        changes: changesOf(w),
        changed: 0,
        // Past its last chance of detection (judged SETTLE_MS after it ends), ranked 30 s on.
        doneAt: w.incident
          ? judgedAt(last) + RERANK_AFTER_MS + SECOND_MS
          : Math.max(...w.rollouts.map((r) => r.endedAt)),
      }
    }
    if (active) {
      const a = active
      if (a.changed < a.changes.length && a.changes[a.changed]! <= now) {
        while (a.changed < a.changes.length && a.changes[a.changed]! <= now) a.changed++
        attribution.rollouts(
          a.w.rollouts.map((r) => factsAt(r, now)),
          now,
        )
      }
      clients.tick(now, beat)
    }
    const step = now - SECOND_MS - SETTLE_MS
    const k = step / SECOND_MS
    if (k < 0 || k >= steps) continue
    const value = clients.drawn[k] ? clients.series[k]! : count(level[k]!)
    // The warm-up is learned, not judged, as a new leader learns a kept history: judged by the
    // level model alone, the daily cycle opens incidents, and one left open stops the model
    // learning for hours (docs/simulate.md).
    if (step < o.warmupMs) {
      watch.replay(step, value)
      continue
    }
    const r = watch.step(step, value)
    if (trace) record(trace, step, value, r.expectation, r.opened !== undefined)
    if (r.opened) spans.push({ from: step, until: totalMs })
    if (r.closed) spans.at(-1)!.until = step
    if (r.closed && openFalse) {
      openFalse.openMs = step - openFalse.at
      openFalse = undefined
    }
    if (r.closed && openHit) {
      openHit.d.openAfterEndMs = step - openHit.end
      openHit = undefined
    }
    const opened = r.opened
    if (opened) {
      const at = injected.findIndex((i) => step >= i.start && step <= i.end + entry.clearMs)
      const hit = injected[at]
      const ranked = active !== undefined
      if (hit && !detected.has(at)) {
        detected.add(at)
        const d: { -readonly [K in keyof Detection]: Detection[K] } = {
          cause: hit.cause,
          detectionMs: step - hit.start,
        }
        const judge = (r: Ranking) =>
          hit.culprit ? r.suspects[0]?.rolloutId === hit.culprit.id : convincing(r)
        if (ranked) {
          d[hit.culprit ? 'attributed' : 'blamed'] = judge(rank(opened.since, now))
          const rerank = now + RERANK_AFTER_MS
          due.push({
            at: rerank,
            since: opened.since,
            done: (r) => {
              d[hit.culprit ? 'attributedAfter30s' : 'blamedAfter30s'] = judge(r)
              // Ranked twice: its clients need not be simulated any longer.
              if (active?.w.incident === hit) active.doneAt = rerank
            },
          })
        }
        detections.push(d)
        openHit = { d, end: hit.end }
      } else if (hit) reopened++
      else {
        const promotion = promotions.find(
          (p: Promotion) => step >= p.start && step <= promotionEnd(p) + AFTER_PROMOTION_MS,
        )
        openFalse = {
          seed: o.seed,
          at: step,
          since: opened.since,
          expected: opened.expected,
          observed: opened.observed,
          ...(promotion && { promotionAt: promotion.start }),
          ...(ranked && { blamed: convincing(rank(opened.since, now)) }),
        }
        falseIncidents.push(openFalse)
      }
    }
    while (due.length > 0 && due[0]!.at <= now) {
      const d = due.shift()!
      d.done(rank(d.since, now))
    }
  }
  if (openFalse) openFalse.openMs = totalMs - openFalse.at
  if (openHit) openHit.d.openAfterEndMs = totalMs - openHit.end
  const injectedMs = injected.reduce((s, i) => s + i.end + entry.clearMs - i.start, 0)
  return {
    seed: o.seed,
    injected: injected.length,
    detections,
    missed: injected.length - detections.length,
    missedWhileOpen: injected.filter(
      (i, at) => !detected.has(at) && spans.some((o) => o.from < i.start && o.until >= i.start),
    ).length,
    falseIncidents,
    reopened,
    noiseWeeks: (o.judgedMs - injectedMs) / WEEK_MS,
    promotions: promotions.length,
    ...(trace && { trace: (({ until: _, ...t }) => t)(trace) }),
  }
}

/**
 * The business scenario (issue 15): the real business watch and the real
 * attribution on a virtual timeline, one step per second, over a seasonal
 * count series (daily cycle, weekend dip, promotions that are not
 * incidents) with injected drops, most caused by a rollout's treated
 * clients, the rest fleet-wide, each among 2–4 rollouts in flight.
 *
 * Per run: `history` days of warm-up (the model learns its season, nothing
 * is judged), then `weeks` judged. An injected incident is detected when
 * the watch opens one between its start and its end + clearMs; every other
 * one opened in the judged part is false. Figures over `runs` seeds
 * (seed, seed + 1, …): detection (the opening step − the injected start),
 * when the coordinator would pause rollouts (a step is judged SETTLE_MS
 * after it ends), false incidents per week of noise, and how often the
 * attribution's top suspect is the culprit.
 */
import { z } from 'zod'
import { between, parseOptions } from '../validate.js'
import { watchEntrySchema } from '../watch/options.js'
import { fits, MIN_GAP_MS } from './business-plan.js'
import {
  type Detection,
  type FalseIncident,
  type RunResult,
  runBusiness,
  SETTLE_MS,
} from './business-run.js'
import { DAY_MS, SECOND_MS, WEEK_MS } from './business-series.js'
import type { BusinessTrace } from './business-trace.js'

/** The metric's name, as a `watch` config entry would have it. */
const METRIC = 'orders'
/** False incidents listed in the result at most (the count is whole). */
const MAX_LISTED = 20

const watched = watchEntrySchema.shape

export const businessSchema = z
  .strictObject({
    /** The series' mean rate over a week, events per second. @default 100 */
    rate: between(1, 1_000_000).default(100),
    /** Each injected incident drops the fleet-wide series by this share. @default 0.1 */
    drop: between(0.01, 1).default(0.1),
    /** The judged part, weeks (after the warm-up). @default 2 */
    weeks: between(0.1, 52).default(2),
    /** Incidents injected per run (0: noise only). @default 20 */
    incidents: between(0, 1_000, { int: true }).default(20),
    /** The share of them caused by a rollout's treated clients; the rest are fleet-wide. @default 0.7 */
    rolloutShare: between(0, 1).default(0.7),
    /** Clients simulated while rollouts are in flight, heartbeating every 10 s. @default 1000 */
    clients: between(10, 100_000, { int: true }).default(1_000),
    /** The spread of the clients' traffic (lognormal sigma; 0: all equal). @default 1 */
    clientSigma: between(0, 3).default(1),
    /** Promotions (+30–100 % for 10–60 min) per week, on average. @default 3 */
    promotions: between(0, 100).default(3),
    /** The watch's seasonal history, days (also the warm-up). @default 3 */
    history: watched.history,
    /** The watch's threshold (noise units of a forMs window's mean). @default 4 */
    threshold: watched.threshold,
    runs: between(1, 1_000, { int: true }).default(1),
    seed: z.number({ error: 'an integer' }).int({ error: 'an integer' }).default(1),
  })
  .superRefine((o, ctx) => {
    if (!fits(o.incidents, o.weeks * WEEK_MS)) {
      let most = 0
      while (fits(most + 1, o.weeks * WEEK_MS)) most++
      ctx.addIssue({
        code: 'custom',
        path: ['incidents'],
        message: `at most ${most} in ${o.weeks} week${o.weeks === 1 ? '' : 's'} (they and half as many quiet times are ${MIN_GAP_MS / 3_600_000} h apart)`,
      })
    }
  })
export type BusinessInput = z.input<typeof businessSchema>
export type BusinessOptions = z.output<typeof businessSchema>

export const parseBusiness = (input: unknown) => parseOptions(businessSchema, input)

const quantile = (xs: readonly number[], q: number): number | undefined => {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]
}

/** The share of `xs` that are true, over those defined (null: none). */
const share = (xs: readonly (boolean | undefined)[]): number | null => {
  const known = xs.filter((x): x is boolean => x !== undefined)
  return known.length === 0 ? null : known.filter(Boolean).length / known.length
}

export interface BusinessResult {
  readonly scenario: 'business'
  readonly seed: number
  readonly runs: number
  readonly rate: number
  readonly drop: number
  readonly weeks: number
  /** Injected per run, and of those caused by a rollout. */
  readonly incidents: number
  readonly options: BusinessOptions
  /** The watch as configured: what a `watch` config entry would say. */
  readonly watch: {
    readonly metric: string
    readonly threshold: number
    readonly forMs: number
    readonly clearMs: number
    readonly periodMs: number
    readonly history: number
  }
  readonly injected: { readonly total: number; readonly rollout: number; readonly fleet: number }
  readonly detected: number
  readonly missed: number
  /** Missed drops that began while an incident opened earlier was still open: none could open. */
  readonly missedWhileOpen: number
  /** The opening step's time − the injected start, ms. */
  readonly detectionMs: { p50?: number; p95?: number; max?: number }
  /** When the coordinator would pause: detection + the step's second + SETTLE_MS. */
  readonly pausedWithinMs: { p50?: number; p95?: number; max?: number }
  /** How long a detected incident stayed open after its drop ended (it closes clearMs after, at best). */
  readonly openAfterEndMs: { p50?: number; p95?: number; max?: number }
  readonly falseIncidents: number
  readonly falseIncidentsPerWeek: number
  /** The judged noise-only time, weeks (all runs). */
  readonly noiseWeeks: number
  /** False incidents that opened during a promotion or within 30 minutes of its end. */
  readonly falseAfterPromotion: number
  /** Detected rollout-caused incidents whose culprit is the top suspect (null: none detected). */
  readonly attributionAccuracy: number | null
  readonly attributionAccuracyAfter30s: number | null
  readonly attributionJudged: number
  /** Detected fleet-wide incidents whose top suspect was named as the culprit anyway. */
  readonly fleetWideBlamed: number | null
  readonly fleetWideBlamedAfter30s: number | null
  /** Opened again inside an injected incident already detected. */
  readonly reopened: number
  /** The longest a false incident stayed open, ms (while one is open, no other opens). */
  readonly falseOpenMaxMs?: number
  /** The share of the judged time a false incident was open: the watch blind to a new drop. */
  readonly falseOpenShare: number
  readonly promotions: number
  /** The first false incidents, with their run's seed. */
  readonly falseList: readonly FalseIncident[]
  /** The first run's series around its first injected incident (for the plot). */
  readonly trace?: BusinessTrace
}

export interface BusinessExtras {
  readonly onProgress?: (done: number, total: number) => void
}

export const simulateBusiness = (
  input: BusinessInput = {},
  extras: BusinessExtras = {},
): BusinessResult => {
  const o = parseBusiness(input)
  const entry = watchEntrySchema.parse({
    metric: METRIC,
    worse: 'lower',
    threshold: o.threshold,
    period: DAY_MS,
    history: o.history,
  })
  const runs: RunResult[] = []
  for (let i = 0; i < o.runs; i++) {
    runs.push(
      runBusiness(
        {
          seed: o.seed + i,
          rate: o.rate,
          drop: o.drop,
          incidents: o.incidents,
          rolloutShare: o.rolloutShare,
          clients: o.clients,
          clientSigma: o.clientSigma,
          promotions: o.promotions,
          warmupMs: o.history * DAY_MS,
          judgedMs: Math.round((o.weeks * WEEK_MS) / SECOND_MS) * SECOND_MS,
          entry,
        },
        i === 0,
      ),
    )
    extras.onProgress?.(i + 1, o.runs)
  }
  const detections: Detection[] = runs.flatMap((r) => r.detections)
  const ms = detections.map((d) => d.detectionMs)
  const paused = ms.map((d) => d + SECOND_MS + SETTLE_MS)
  const overhang = detections.flatMap((d) =>
    d.openAfterEndMs === undefined ? [] : [d.openAfterEndMs],
  )
  const byRollout = detections.filter((d) => d.cause === 'rollout')
  const fleetWide = detections.filter((d) => d.cause === 'fleet')
  const falseIncidents = runs.flatMap((r) => r.falseIncidents)
  const noiseWeeks = runs.reduce((s, r) => s + r.noiseWeeks, 0)
  const rolloutCaused = Math.round(o.rolloutShare * o.incidents)
  const trace = runs[0]?.trace
  return {
    scenario: 'business',
    seed: o.seed,
    runs: o.runs,
    rate: o.rate,
    drop: o.drop,
    weeks: o.weeks,
    incidents: o.incidents,
    options: o,
    watch: {
      metric: entry.metric,
      threshold: entry.threshold,
      forMs: entry.forMs,
      clearMs: entry.clearMs,
      periodMs: DAY_MS,
      history: entry.history,
    },
    injected: {
      total: o.incidents * o.runs,
      rollout: rolloutCaused * o.runs,
      fleet: (o.incidents - rolloutCaused) * o.runs,
    },
    detected: detections.length,
    missed: runs.reduce((s, r) => s + r.missed, 0),
    missedWhileOpen: runs.reduce((s, r) => s + r.missedWhileOpen, 0),
    detectionMs: { p50: quantile(ms, 0.5), p95: quantile(ms, 0.95), max: quantile(ms, 1) },
    pausedWithinMs: {
      p50: quantile(paused, 0.5),
      p95: quantile(paused, 0.95),
      max: quantile(paused, 1),
    },
    openAfterEndMs: {
      p50: quantile(overhang, 0.5),
      p95: quantile(overhang, 0.95),
      max: quantile(overhang, 1),
    },
    falseIncidents: falseIncidents.length,
    falseIncidentsPerWeek: noiseWeeks > 0 ? falseIncidents.length / noiseWeeks : 0,
    noiseWeeks,
    falseAfterPromotion: falseIncidents.filter((f) => f.promotionAt !== undefined).length,
    attributionAccuracy: share(byRollout.map((d) => d.attributed)),
    attributionAccuracyAfter30s: share(byRollout.map((d) => d.attributedAfter30s)),
    attributionJudged: byRollout.filter((d) => d.attributed !== undefined).length,
    fleetWideBlamed: share(fleetWide.map((d) => d.blamed)),
    fleetWideBlamedAfter30s: share(fleetWide.map((d) => d.blamedAfter30s)),
    reopened: runs.reduce((s, r) => s + r.reopened, 0),
    ...(falseIncidents.length > 0 && {
      falseOpenMaxMs: Math.max(...falseIncidents.map((f) => f.openMs ?? 0)),
    }),
    falseOpenShare:
      falseIncidents.reduce((s, f) => s + (f.openMs ?? 0), 0) / (o.weeks * o.runs * WEEK_MS),
    promotions: runs.reduce((s, r) => s + r.promotions, 0),
    falseList: falseIncidents.slice(0, MAX_LISTED),
    ...(trace && { trace }),
  }
}

/**
 * What happens in one run of the business scenario, drawn up front from its
 * seed: the injected incidents (at random times in the judged part, at least
 * MIN_GAP_MS apart), and around each of them, and around as many quiet
 * times (half the incidents), 2–4 rollouts in flight with staggered waves.
 *
 * A rollout-caused incident starts when its culprit's wave k starts, and
 * from then on every client the culprit has reached (waves 1..k) loses
 * f = drop ÷ S of its orders, S being those clients' share of the traffic:
 * the fleet-wide drop is `drop`. Wave k is drawn among the culprit's waves
 * whose share S is at least `drop` (f ≤ 100 %) and that leave a control
 * (S < 1); only if none does, the last wave (no control: timing alone can
 * name it). Its later waves do not start while the incident lasts (the
 * coordinator pauses it, a person rolls it back): it ends rolled back when
 * the incident ends. A fleet-wide incident drops every client by `drop`;
 * the rollouts around it are all bystanders.
 */

import { planWaves, type WaveRange } from '../invalidation/planner.js'
import { shardOf } from '../invalidation/shard.js'
import type { RolloutFacts } from '../watch/attribution.js'
import { HOUR_MS, MINUTE_MS, SECOND_MS } from './business-series.js'
import { clientId } from './fleet.js'
import { mulberry32 } from './rng.js'

/** Shards each rollout splits the fleet into. */
export const SHARDS = 100
/** Window anchors (incidents, quiet times) are at least this far apart. */
export const MIN_GAP_MS = 4 * HOUR_MS
/** No anchor this close to the judged part's start or end. */
export const EDGE_MS = 2 * HOUR_MS
/** An injected incident lasts between these. */
const INCIDENT_MS = [10 * MINUTE_MS, 30 * MINUTE_MS] as const
/** Waves start this far apart (uniform), and a rollout completes this long after its last. */
const WAVE_GAP_MS = [2 * MINUTE_MS, 5 * MINUTE_MS] as const
const BAKE_MS = 2 * MINUTE_MS
/** Bystanders start their first wave this far from the anchor (uniform). */
const BYSTANDER_FROM_MS = [-15 * MINUTE_MS, 5 * MINUTE_MS] as const
/** The plans rollouts draw from: cumulative fleet fractions. */
const PLANS: readonly (readonly number[])[] = [
  [0.01, 0.1, 0.5, 1],
  [0.05, 0.25, 1],
  [0.1, 0.5, 1],
  [0.02, 0.2, 0.6, 1],
]

export interface RolloutPlan {
  readonly id: string
  readonly waves: readonly WaveRange[]
  /** When each wave starts (undefined: it never does). */
  readonly waveAt: readonly (number | undefined)[]
  readonly endedAt: number
  readonly endState: 'completed' | 'rolled_back'
}

export interface InjectedIncident {
  readonly start: number
  readonly end: number
  readonly cause: 'rollout' | 'fleet'
  /** A rollout-caused incident's culprit, the wave (1-based) it starts at, and its clients' loss f. */
  readonly culprit?: { readonly id: string; readonly wave: number; readonly loss: number }
}

export interface Window {
  readonly anchor: number
  readonly incident?: InjectedIncident
  readonly rollouts: readonly RolloutPlan[]
  /** Clients are simulated from here (a minute before the first wave). */
  readonly from: number
  /** The clients the culprit harms while the incident lasts (indices), if rollout-caused. */
  readonly harmed?: Uint8Array
}

export interface PlanInput {
  readonly seed: number
  readonly drop: number
  readonly incidents: number
  readonly rolloutShare: number
  /** The judged part: [judgedFrom, totalMs). */
  readonly judgedFrom: number
  readonly totalMs: number
  /** Each client's traffic share. */
  readonly weights: Float64Array
}

/** How many windows (incidents and quiet times) a run has for `incidents`. */
export const windowCount = (incidents: number): number => incidents + Math.ceil(incidents / 2)

/** Whether `incidents` fit, MIN_GAP_MS apart, in a judged part of `judgedMs`. */
export const fits = (incidents: number, judgedMs: number): boolean =>
  windowCount(incidents) <= 1 + Math.floor((judgedMs - 2 * EDGE_MS) / MIN_GAP_MS)

const whole = (ms: number) => Math.round(ms / SECOND_MS) * SECOND_MS

export const planWindows = (p: PlanInput): Window[] => {
  const random = mulberry32(p.seed ^ 0x0b5e55)
  const uniform = ([lo, hi]: readonly [number, number]) => lo + (hi - lo) * random()
  const n = windowCount(p.incidents)
  // n anchors at least MIN_GAP_MS apart: sorted uniforms over the slack, plus i gaps.
  const slack = p.totalMs - p.judgedFrom - 2 * EDGE_MS - (n - 1) * MIN_GAP_MS
  const anchors = Array.from({ length: n }, () => random() * slack)
    .sort((a, b) => a - b)
    .map((x, i) => whole(p.judgedFrom + EDGE_MS + x + i * MIN_GAP_MS))
  // Which anchors hold an incident, and which of those a rollout causes: exact counts, random places.
  const order = shuffle(
    Array.from({ length: n }, (_, i) => i),
    random,
  )
  const byRollout = Math.round(p.rolloutShare * p.incidents)
  const kind = new Map<number, 'rollout' | 'fleet'>()
  for (const [j, w] of order.slice(0, p.incidents).entries())
    kind.set(w, j < byRollout ? 'rollout' : 'fleet')
  return anchors.map((anchor, w) => {
    const cause = kind.get(w)
    const others = 1 + Math.floor(random() * 3) + (cause === 'rollout' ? 0 : 1)
    const rollouts: RolloutPlan[] = []
    let incident: InjectedIncident | undefined
    let harmed: Uint8Array | undefined
    const end = whole(anchor + uniform(INCIDENT_MS))
    if (cause === 'rollout') {
      const id = `r${w + 1}-culprit`
      const waves = planWaves(pick(PLANS, random), SHARDS)
      const shards = Array.from(p.weights, (_, i) => shardOf(clientId(i), id, SHARDS))
      const share = waves.map((wave) => {
        let s = 0
        for (let i = 0; i < shards.length; i++) if (shards[i]! < wave.hi) s += p.weights[i]!
        return s
      })
      const fit = waves.filter((_, k) => share[k]! >= p.drop && share[k]! < 1 - 1e-9)
      const k = (fit.length > 0 ? pick(fit, random) : waves.at(-1)!).index
      const waveAt: (number | undefined)[] = waves.map(() => undefined)
      waveAt[k] = anchor
      for (let j = k - 1; j >= 0; j--) waveAt[j] = whole(waveAt[j + 1]! - uniform(WAVE_GAP_MS))
      rollouts.push({ id, waves, waveAt, endedAt: end, endState: 'rolled_back' })
      harmed = Uint8Array.from(shards, (s) => (s < waves[k]!.hi ? 1 : 0))
      incident = {
        start: anchor,
        end,
        cause,
        culprit: { id, wave: k + 1, loss: Math.min(1, p.drop / share[k]!) },
      }
    } else if (cause === 'fleet') incident = { start: anchor, end, cause }
    for (let j = 0; j < others; j++) {
      const id = `r${w + 1}-${String.fromCharCode(97 + j)}`
      const waves = planWaves(pick(PLANS, random), SHARDS)
      const waveAt = [whole(anchor + uniform(BYSTANDER_FROM_MS))]
      while (waveAt.length < waves.length) waveAt.push(whole(waveAt.at(-1)! + uniform(WAVE_GAP_MS)))
      rollouts.push({ id, waves, waveAt, endedAt: waveAt.at(-1)! + BAKE_MS, endState: 'completed' })
    }
    const first = Math.min(...rollouts.map((r) => r.waveAt[0]!))
    return {
      anchor,
      ...(incident && { incident }),
      rollouts,
      from: first - MINUTE_MS,
      ...(harmed && { harmed }),
    }
  })
}

/** A rollout's facts at `now`, as the engine would report them. */
export const factsAt = (r: RolloutPlan, now: number): RolloutFacts => {
  const ended = now >= r.endedAt
  return {
    id: r.id,
    kind: 'config',
    state: ended ? r.endState : 'rolling',
    createdAt: r.waveAt[0]! - SECOND_MS,
    ...(ended && { endedAt: r.endedAt }),
    shards: SHARDS,
    waves: r.waves.map((w, i) => {
      const at = r.waveAt[i]
      return {
        index: w.index,
        lo: w.lo,
        hi: w.hi,
        ...(at !== undefined && at <= now && { startedAt: at }),
      }
    }),
  }
}

/** The moments a window's rollouts change (waves start, rollouts end), in order. */
export const changesOf = (w: Window): number[] =>
  [
    ...new Set(
      w.rollouts.flatMap((r) => [
        ...r.waveAt.filter((t): t is number => t !== undefined),
        r.endedAt,
      ]),
    ),
  ].sort((a, b) => a - b)

const pick = <T>(xs: readonly T[], random: () => number): T => xs[Math.floor(random() * xs.length)]!

const shuffle = <T>(xs: T[], random: () => number): T[] => {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[xs[i], xs[j]] = [xs[j]!, xs[i]!]
  }
  return xs
}

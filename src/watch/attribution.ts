/**
 * Which rollout likely caused a business metric's deviation. Every rollout
 * in flight splits the fleet in two: the clients its waves reached
 * (treated) and those not reached yet (control), by the same salted shard
 * hash the engine uses, so the split needs no delivery records and a new
 * leader draws the same one. Each heartbeat's count of a watched metric,
 * as a share of its client's own usual rate (so that clients of unequal
 * traffic compare: a cohort that drew the busy clients is not worse), goes
 * to one tally of every rollout, in buckets of time, so that an incident's
 * ranking compares the cohorts from when the deviation began: a culprit's treated clients fall (or rise) and its
 * control does not; other rollouts' cohorts, drawn with other salts, hold
 * the culprit's clients in equal shares and differ only by noise.
 *
 * Beside that evidence, timing: the wave that started last before the
 * deviation began, and how long before. With no per-client figures for a
 * metric (a series posted from elsewhere), timing alone ranks. Pure and
 * clock-free: the caller says when things happen.
 */
import { shardOf } from '../invalidation/shard.js'

export type RolloutKind = 'invalidate' | 'rewarm' | 'config'

/** What attribution needs of a rollout (see RolloutView). */
export interface RolloutFacts {
  readonly id: string
  readonly kind: RolloutKind
  readonly state: string
  readonly createdAt: number
  /** When it ended (completed, aborted, rolled back, failed). */
  readonly endedAt?: number | undefined
  /** Shards the fleet is split into; a client's is shardOf(clientId, id, shards). */
  readonly shards: number
  /** Waves in order: shards [lo, hi) are reached in wave `index` (0-based), from startedAt. */
  readonly waves: readonly {
    readonly index: number
    readonly lo: number
    readonly hi: number
    readonly startedAt?: number | undefined
  }[]
  /** A rollback of another rollout: the remedy, never a suspect. */
  readonly rollbackOf?: string | undefined
}

export interface AttributionOptions {
  readonly metrics: readonly { readonly metric: string; readonly worse: 'lower' | 'higher' }[]
}

export interface CohortRate {
  readonly clients: number
  /** Heartbeats counted. */
  readonly samples: number
  /** Mean of each heartbeat's rate over its client's usual rate (1: as usual). */
  readonly rate: number
}

export interface Suspect {
  readonly rolloutId: string
  readonly kind: RolloutKind
  /** The wave (1-based) that had most recently started when the deviation began. */
  readonly wave: number
  /** Cohort evidence (z, worse direction positive) plus timing: the ranking's key. */
  readonly score: number
  /** How long before the deviation began that wave started, ms (negative: after). */
  readonly leadMs: number
  /** Treated against control on the metric since the deviation began, if both have samples. */
  readonly effect?: {
    /** Treated ÷ control − 1, and its 95 % interval. */
    readonly relative: number
    readonly low: number
    readonly high: number
    /** The difference in standard errors, positive in the worse direction. */
    readonly z: number
    readonly treated: CohortRate
    readonly control: CohortRate
  }
  /** The evidence in one line. */
  readonly line: string
}

export interface Ranking {
  readonly at: number
  /** Most likely first. */
  readonly suspects: readonly Suspect[]
  /** What the ranking says, in one line. */
  readonly summary: string
}

/** Tallies are kept in buckets of this width, ms. */
const BUCKET_MS = 10_000
/** Buckets kept this long, ms: an incident's ranking looks back at most this far. */
const KEEP_MS = 30 * 60_000
/** A rollout ended this long before a deviation began is no suspect, ms. */
const RECENT_MS = 30 * 60_000
/** A wave started this long after the deviation began may still be its cause (clocks, heartbeats), ms. */
const SLACK_MS = 15_000
/** A client that reported a metric this recently reports zero when a heartbeat leaves it out, ms. */
const COUNTING_MS = 30 * 60_000
/** Samples each cohort needs before its difference is evidence. */
const MIN_SAMPLES = 10
/** A difference this many standard errors in the worse direction names a culprit. */
const CONVINCING_Z = 3
/** Heartbeats a client's usual rate is learned from before its samples count. */
const MIN_BEATS = 3
/** A client's usual rate: an average over about this long, ms (a drop of minutes moves it little). */
const USUAL_MS = 2 * 3_600_000
/** Rollouts tracked at most (the newest). */
const MAX_TRACKED = 64
const Z95 = 1.959964

interface Tally {
  n: number
  mean: number
  m2: number
}

interface Tracked {
  facts: RolloutFacts
  readonly shard: Map<string, number>
  /** Per metric, per bucket start: treated and control tallies. */
  readonly buckets: Map<string, Map<number, [Tally, Tally]>>
  /** Per metric: each client's cohort (true: treated) and its latest sample. */
  readonly clients: Map<string, Map<string, { treated: boolean; at: number }>>
}

const add = (t: Tally, x: number): void => {
  t.n++
  const d = x - t.mean
  t.mean += d / t.n
  t.m2 += d * (x - t.mean)
}

const merge = (a: Tally, b: Tally): Tally => {
  if (a.n === 0) return { ...b }
  if (b.n === 0) return { ...a }
  const n = a.n + b.n
  const d = b.mean - a.mean
  return { n, mean: a.mean + (d * b.n) / n, m2: a.m2 + b.m2 + (d * d * a.n * b.n) / n }
}

const fmtPct = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} %`

const fmtAgo = (ms: number): string => {
  const s = Math.round(Math.abs(ms) / 1000)
  const span = s < 120 ? `${s} s` : `${Math.round(s / 60)} min`
  return ms >= 0 ? `${span} before` : `${span} after`
}

export class Attribution {
  readonly #worse: ReadonlyMap<string, 'lower' | 'higher'>
  readonly #tracked = new Map<string, Tracked>()
  /** Per metric, per client: when it last reported it, its usual rate and heartbeats seen. */
  readonly #counting = new Map<string, Map<string, { at: number; usual: number; beats: number }>>()

  constructor(o: AttributionOptions) {
    this.#worse = new Map(o.metrics.map((m) => [m.metric, m.worse]))
    for (const m of o.metrics) this.#counting.set(m.metric, new Map())
  }

  /** The rollouts as they are now (their waves' startedAt filled in as they start). */
  rollouts(list: readonly RolloutFacts[], now: number): void {
    const keep = list
      .filter((r) => !r.rollbackOf && (r.endedAt === undefined || r.endedAt >= now - RECENT_MS))
      .filter((r) => r.waves.some((w) => w.startedAt !== undefined))
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(0, MAX_TRACKED)
    const ids = new Set(keep.map((r) => r.id))
    for (const id of this.#tracked.keys()) if (!ids.has(id)) this.#tracked.delete(id)
    for (const facts of keep) {
      const t = this.#tracked.get(facts.id)
      if (t) t.facts = facts
      else
        this.#tracked.set(facts.id, {
          facts,
          shard: new Map(),
          buckets: new Map(),
          clients: new Map(),
        })
    }
    const oldest = now - KEEP_MS
    for (const t of this.#tracked.values())
      for (const byBucket of t.buckets.values())
        for (const at of byBucket.keys()) if (at + BUCKET_MS < oldest) byBucket.delete(at)
    for (const seen of this.#counting.values())
      for (const [id, c] of seen) if (c.at < now - COUNTING_MS) seen.delete(id)
  }

  /** One client's heartbeat counts: metric → events over `intervalMs` ending at `at`. */
  sample(
    clientId: string,
    counts: Readonly<Record<string, number>>,
    intervalMs: number,
    at: number,
  ): void {
    const seconds = Math.max(intervalMs, 1) / 1000
    for (const [metric, seen] of this.#counting) {
      const n = counts[metric]
      let c = seen.get(clientId)
      // A client counting the metric that left it out counted none.
      if (n === undefined && !c) continue
      const rate = (n ?? 0) / seconds
      if (!c) {
        c = { at, usual: rate, beats: 1 }
        seen.set(clientId, c)
        continue
      }
      if (c.beats >= MIN_BEATS && c.usual > 0) {
        const x = rate / c.usual
        for (const t of this.#tracked.values()) this.#tally(t, clientId, metric, x, intervalMs, at)
      }
      // A running mean over the first few heartbeats, then an average over about USUAL_MS.
      const a = c.beats < 10 ? 1 / (c.beats + 1) : Math.min(1, intervalMs / USUAL_MS)
      c.usual += a * (rate - c.usual)
      c.beats++
      if (n !== undefined) c.at = at
    }
  }

  #tally(
    t: Tracked,
    clientId: string,
    metric: string,
    rate: number,
    intervalMs: number,
    at: number,
  ): void {
    const f = t.facts
    // Once it ended its cohorts mean nothing more (a rollback undid it, or no control is left).
    if (f.endedAt !== undefined && at > f.endedAt) return
    let shard = t.shard.get(clientId)
    if (shard === undefined) {
      shard = shardOf(clientId, f.id, f.shards)
      t.shard.set(clientId, shard)
    }
    const wave = f.waves.find((w) => shard >= w.lo && shard < w.hi)
    if (!wave) return
    const from = wave.startedAt
    // The interval straddles the client's wave start: neither cohort's.
    if (from !== undefined && at - intervalMs < from && from <= at) return
    const treated = from !== undefined && from <= at - intervalMs
    let byBucket = t.buckets.get(metric)
    if (!byBucket) {
      byBucket = new Map()
      t.buckets.set(metric, byBucket)
    }
    const b = Math.floor(at / BUCKET_MS) * BUCKET_MS
    let pair = byBucket.get(b)
    if (!pair) {
      pair = [
        { n: 0, mean: 0, m2: 0 },
        { n: 0, mean: 0, m2: 0 },
      ]
      byBucket.set(b, pair)
    }
    add(treated ? pair[0] : pair[1], rate)
    let who = t.clients.get(metric)
    if (!who) {
      who = new Map()
      t.clients.set(metric, who)
    }
    who.set(clientId, { treated, at })
  }

  /** Rank the rollouts that may have caused a deviation of `metric` that began at `since`. */
  rank(incident: { readonly metric: string; readonly since: number }, now: number): Ranking {
    const { metric, since } = incident
    const worse = this.#worse.get(metric) ?? 'lower'
    const suspects: Suspect[] = []
    for (const t of this.#tracked.values()) {
      const f = t.facts
      if (f.endedAt !== undefined && f.endedAt < since - RECENT_MS) continue
      const started = f.waves.filter(
        (w) => w.startedAt !== undefined && w.startedAt <= since + SLACK_MS,
      )
      const last = started.at(-1)
      if (!last) continue
      const leadMs = since - last.startedAt!
      const effect = this.#effect(t, metric, since, worse)
      // Timing: a wave just before the deviation counts most, one long before little.
      const timing = 2 * Math.exp(-Math.max(0, leadMs) / 180_000)
      const score = (effect ? Math.max(-5, Math.min(20, effect.z)) : 0) + timing
      const wave = last.index + 1
      const when = `wave ${wave} began ${fmtAgo(leadMs)} the deviation`
      const line = effect
        ? `${f.id} wave ${wave}: ${metric} ${fmtPct(effect.relative)} treated vs control ` +
          `(95 % interval ${fmtPct(effect.low)} to ${fmtPct(effect.high)}; ` +
          `${effect.treated.clients} vs ${effect.control.clients} clients); ${when}`
        : `${f.id} wave ${wave}: no treated and control figures for ${metric}; ${when}`
      suspects.push({
        rolloutId: f.id,
        kind: f.kind,
        wave,
        score,
        leadMs,
        ...(effect && { effect }),
        line,
      })
    }
    suspects.sort((a, b) => b.score - a.score || a.leadMs - b.leadMs)
    return { at: now, suspects, summary: summaryOf(suspects, metric) }
  }

  #effect(
    t: Tracked,
    metric: string,
    since: number,
    worse: 'lower' | 'higher',
  ): Suspect['effect'] | undefined {
    const byBucket = t.buckets.get(metric)
    if (!byBucket) return undefined
    let treated: Tally = { n: 0, mean: 0, m2: 0 }
    let control: Tally = { n: 0, mean: 0, m2: 0 }
    // Buckets from the one the deviation began in: what the cohorts did since.
    const from = Math.floor(since / BUCKET_MS) * BUCKET_MS
    for (const [at, [tr, co]] of byBucket) {
      if (at < from) continue
      treated = merge(treated, tr)
      control = merge(control, co)
    }
    if (treated.n < MIN_SAMPLES || control.n < MIN_SAMPLES || control.mean <= 0) return undefined
    const vt = treated.m2 / (treated.n - 1) / treated.n
    const vc = control.m2 / (control.n - 1) / control.n
    const sd = Math.sqrt(vt + vc)
    const diff = treated.mean - control.mean
    const raw = sd > 0 ? diff / sd : diff === 0 ? 0 : Math.sign(diff) * 20
    const relative = treated.mean / control.mean - 1
    const c2 = control.mean * control.mean
    const seRel = Math.sqrt(vt / c2 + (treated.mean * treated.mean * vc) / (c2 * c2))
    const who = t.clients.get(metric)
    let tc = 0
    let cc = 0
    for (const c of who?.values() ?? [])
      if (c.at >= from) {
        if (c.treated) tc++
        else cc++
      }
    return {
      relative,
      low: relative - Z95 * seRel,
      high: relative + Z95 * seRel,
      z: worse === 'lower' ? -raw : raw,
      treated: { clients: tc, samples: treated.n, rate: treated.mean },
      control: { clients: cc, samples: control.n, rate: control.mean },
    }
  }
}

const summaryOf = (suspects: readonly Suspect[], metric: string): string => {
  const top = suspects[0]
  if (!top) return `no rollout was in flight when ${metric} began to deviate: likely not a rollout`
  if (top.effect && top.effect.z >= CONVINCING_Z)
    return `likely ${top.rolloutId} (wave ${top.wave}): its treated clients' ${metric} ${fmtPct(top.effect.relative)} against its control`
  if (suspects.some((s) => s.effect))
    return `no rollout's treated clients differ from its control on ${metric} yet: maybe fleet-wide, ranked by timing`
  return `no per-client figures for ${metric}: ranked by timing only`
}

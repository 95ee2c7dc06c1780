/**
 * The metastable scenario (after "Metastable Failures in Distributed
 * Systems", HotOS 2021): a fleet serves its traffic at a 90 % hit rate — each
 * client's hot set, Zipf-popular, carries 90 % of requests; one-off keys the
 * other 10 % — and the origin can serve only 30 % of the traffic uncached.
 * At t0 every cache is lost.
 *
 * Naive: every miss fetches (one fetch per key per client at a time), and a
 * fetch that waits past the 1 s timeout fails, so the key stays missing and
 * is fetched again: the origin spends its capacity on answers nobody waits
 * for any more, and stays overloaded after the trigger is gone.
 *
 * slew: the clients rewarm their hot sets, hottest first, and every origin
 * call takes a token from the fleet's rewarm budget, whose rate follows the
 * origin (AIMD) through the coordinator's own control path (the clients'
 * measured origin calls, heartbeats, the rewarm loop); a call that finds no
 * token within `maxWait` is shed (the reader gets its fallback at once),
 * one-off requests after the refill. The origin stays under capacity, every
 * fetch counts, the hit rate comes back.
 */
import { z } from 'zod'
import { InvalidOptionError } from '../errors.js'
import { burstOf } from '../invalidation/budgets.js'
import { Engine } from '../invalidation/engine.js'
import { VirtualClock } from '../limiter/virtual-clock.js'
import { RefreshDriver } from '../refresh/driver.js'
import { nonNegative, parseOptions, positive, positiveInt } from '../validate.js'
import { CapacityOrigin } from './capacity-origin.js'
import { clientId } from './fleet.js'
import { Origin } from './origin.js'
import { rewarmControlPath } from './rewarm-path.js'
import { mulberry32 } from './rng.js'

export const metastableSchema = z.strictObject({
  clients: positiveInt().default(50),
  /** Hot keys per client. @default 1000 */
  hotKeys: positiveInt().default(1000),
  /** Requests per second per client. @default 100 */
  rps: positive().default(100),
  /** Share of requests for one-off keys (never cached): 1 − the warm hit rate. @default 0.1 */
  oneOff: z
    .number({ error: 'a number in [0, 1)' })
    .refine((x) => Number.isFinite(x) && x >= 0 && x < 1, { error: 'a number in [0, 1)' })
    .default(0.1),
  /** Origin fetches per second. @default 30 % of the fleet's requests */
  capacity: positive().optional(),
  /** The budget, fetches/s. @default 3 × capacity */
  budget: positive().optional(),
  latency: positive().default(50),
  target: positive().optional(),
  noise: nonNegative().default(0.1),
  /** Callers give up on an origin call after this long, ms. @default 1000 */
  timeout: positive().default(1000),
  /** slew: a call waits this long for a token before it is shed, ms. @default 100 */
  maxWait: positive().default(100),
  skew: nonNegative().default(1),
  seed: z.number({ error: 'an integer' }).int({ error: 'an integer' }).default(1),
  /** Simulated time, ms. @default 5 × the ideal recovery (at least a minute) */
  horizon: positive().optional(),
})

export type MetastableInput = z.input<typeof metastableSchema>

const TICK_MS = 50

const parse = (input: unknown) => {
  const o = parseOptions(metastableSchema, input)
  const capacity = o.capacity ?? 0.3 * o.clients * o.rps
  // Warm, the one-off requests still miss: an origin that cannot serve those alone never
  // sees the caches refill, whatever any policy does. Refused rather than run to the horizon.
  const missLoad = o.oneOff * o.clients * o.rps
  if (capacity <= missLoad)
    throw new InvalidOptionError(
      'capacity',
      `more than the steady miss load, ${+missLoad.toFixed(3)} fetches/s (one-off share × clients × rps): under it no system recovers`,
      capacity,
    )
  const hotSetFetches = o.clients * o.hotKeys
  const idealRecoveryMs = (hotSetFetches / capacity) * 1000
  return {
    ...o,
    capacity,
    budget: o.budget ?? 3 * capacity,
    target: o.target ?? 2 * o.latency,
    hotSetFetches,
    idealRecoveryMs,
    horizon: o.horizon ?? Math.max(60_000, 5 * idealRecoveryMs),
  }
}

type Opts = ReturnType<typeof parse>

/** Popularity of each rank (sums to 1). */
const zipf = (n: number, s: number): Float64Array => {
  const w = new Float64Array(n)
  let sum = 0
  for (let k = 0; k < n; k++) {
    w[k] = 1 / (k + 1) ** s
    sum += w[k]!
  }
  for (let k = 0; k < n; k++) w[k]! /= sum
  return w
}

interface Series {
  hits: number[]
  requests: number[]
  /** The end of the first tick whose hit rate was back to warm (caches only fill: it stays). */
  recoveredMs?: number
}

const hitRateSeries = (s: Series) => s.requests.map((r, i) => (r > 0 ? s.hits[i]! / r : 0))

/**
 * When the hit rate was back to warm: the end of the first tick (TICK_MS)
 * at which it was. Counted in whole seconds (the end of the first second
 * whose average was back) it read up to a second and a half late, 6 % of a
 * 25 s ideal.
 */
const recoveredAt = (s: Series) => s.recoveredMs ?? null

/** Every client: cached mass of its hot set, and one-off requests. Shared bookkeeping of both runs. */
const traffic = (o: Opts, clock: VirtualClock, cachedMass: Float64Array, series: Series) => {
  const perTick = (o.rps * TICK_MS) / 1000
  return () => {
    const sec = Math.floor(clock.now() / 1000)
    let hits = 0
    for (let i = 0; i < o.clients; i++) hits += perTick * (1 - o.oneOff) * cachedMass[i]!
    series.hits[sec] = (series.hits[sec] ?? 0) + hits
    series.requests[sec] = (series.requests[sec] ?? 0) + perTick * o.clients
    if (series.recoveredMs === undefined && hits / (perTick * o.clients) >= 1 - o.oneOff - 1e-9)
      series.recoveredMs = clock.now() + TICK_MS
  }
}

/** The scenario's origin: the same capacity, latency and noise for both policies. */
const originOf = (o: Opts, clock: VirtualClock, random: () => number) =>
  new CapacityOrigin(clock, {
    capacity: o.capacity,
    baseLatencyMs: o.latency,
    noise: o.noise,
    targetLatencyMs: o.target,
    timeoutMs: o.timeout,
    random,
  })

const runNaive = (o: Opts, p: Float64Array) => {
  const clock = new VirtualClock(0)
  const random = mulberry32(o.seed ^ 0x5a)
  const origin = originOf(o, clock, random)
  const arrivals = new Origin(0)
  const cachedMass = new Float64Array(o.clients)
  const series: Series = { hits: [], requests: [] }
  const count = traffic(o, clock, cachedMass, series)
  const fetch = (i: number, k: number) => {
    arrivals.record(clock.now(), 1)
    origin.request(1, (ok) => {
      if (ok) cachedMass[i]! += p[k]!
      // Failed: the key is still missing; its next reader fetches it again.
      else
        clock.setTimer((-Math.log(1 - random()) / (o.rps * (1 - o.oneOff) * p[k]!)) * 1000, () =>
          fetch(i, k),
        )
    })
  }
  // At t0 the caches are empty: each hot key is fetched when it is next asked for.
  for (let i = 0; i < o.clients; i++) {
    for (let k = 0; k < o.hotKeys; k++) {
      clock.setTimer((-Math.log(1 - random()) / (o.rps * (1 - o.oneOff) * p[k]!)) * 1000, () =>
        fetch(i, k),
      )
    }
  }
  let oneOffs = 0
  const tick = () => {
    count()
    oneOffs += (o.rps * o.oneOff * TICK_MS * o.clients) / 1000
    const n = Math.floor(oneOffs)
    oneOffs -= n
    if (n > 0) {
      arrivals.record(clock.now(), n)
      origin.request(n, () => {})
    }
    if (clock.now() + TICK_MS < o.horizon) clock.setTimer(TICK_MS, tick)
  }
  tick()
  clock.runAll({ until: o.horizon, limit: 50_000_000 })
  const rates = hitRateSeries(series)
  return {
    recoveredMs: recoveredAt(series),
    peakPerSec: arrivals.peakPerSec,
    hitRate: rates,
    perSecond: Array.from(arrivals.perSecond.toArray()),
    overTargetFraction: origin.overTargetMs / o.horizon,
  }
}

/** Insert `k` into `a`, kept in descending order (so `pop()` gives the lowest). */
const insertDescending = (a: number[], k: number) => {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (a[mid]! > k) lo = mid + 1
    else hi = mid
  }
  a.splice(lo, 0, k)
}

export interface MetastableHooks {
  /** Every origin call of the slew run (refills and one-off requests), as it is made (for checking bounds). */
  readonly onFetch?: (at: number, count: number) => void
}

/** The slew run's budget: burst a tenth of the rate; tokens leased for this long, ms. */
const LEASE_TTL_MS = 250
const budgetOf = (o: Opts) => ({ ratePerSec: o.budget, burst: burstOf(o.budget) })

const runSlew = (o: Opts, p: Float64Array, hooks: MetastableHooks) => {
  const clock = new VirtualClock(0)
  const random = mulberry32(o.seed)
  const origin = originOf(o, clock, mulberry32(o.seed ^ 0x5a))
  const arrivals = new Origin(0)
  const engine = new Engine({
    clock,
    config: { budgets: { rewarm: budgetOf(o) }, leases: { ttlMs: LEASE_TTL_MS, maxBatch: 20 } },
  })
  const cachedMass = new Float64Array(o.clients)
  const landed = new Int32Array(o.clients)
  const nextRank = new Int32Array(o.clients) // hot keys below it have landed, are in flight or failed
  // Keys whose fetch failed, hottest (lowest rank) last: fetched again before any colder key.
  const retry: number[][] = Array.from({ length: o.clients }, () => [])
  const waiting: number[][] = Array.from({ length: o.clients }, () => [])
  const series: Series = { hits: [], requests: [] }
  const count = traffic(o, clock, cachedMass, series)
  let shed = 0
  let failed = 0
  let recovered: number | null = null
  const path = rewarmControlPath({
    clock,
    engine,
    target: o.target,
    clients: o.clients,
    seed: o.seed,
    cache: (i) => ({ entries: landed[i]!, capacity: o.hotKeys }),
  })
  const drivers = Array.from({ length: o.clients }, (_, i) => {
    const id = clientId(i)
    engine.join(id, {})
    return new RefreshDriver({
      clock,
      random,
      maxBatch: 20,
      lease: (want) => path.lease(i, want),
      pending: () => o.hotKeys - nextRank[i]! + retry[i]!.length + waiting[i]!.length,
      run: (n) => {
        const now = clock.now()
        arrivals.record(now, n)
        hooks.onFetch?.(now, n)
        // Hottest uncached keys first (failed ones before any not tried yet: they are hotter),
        // then one-off requests still within their wait. Each key is in flight at most once
        // and lands once, so its share of the traffic is counted once.
        const again = retry[i]!
        let refill = 0
        while (refill < n && (again.length > 0 || nextRank[i]! < o.hotKeys)) {
          const k = again.length > 0 ? again.pop()! : nextRank[i]!++
          refill++
          origin.request(1, (ok, _failed, latencies) => {
            path.observe(i, ok, latencies)
            if (ok) {
              cachedMass[i]! += p[k]!
              landed[i]!++
            } else {
              failed++
              insertDescending(again, k)
            }
            drivers[i]!.wake()
          })
        }
        const rest = n - refill
        if (rest > 0) {
          waiting[i]!.splice(0, rest)
          origin.request(rest, (ok, _failed, latencies) => path.observe(i, ok, latencies))
        }
      },
    })
  })
  let oneOffs = 0
  const tick = () => {
    count()
    const now = clock.now()
    oneOffs += (o.rps * o.oneOff * TICK_MS) / 1000
    const n = Math.floor(oneOffs)
    oneOffs -= n
    for (let i = 0; i < o.clients; i++) {
      const w = waiting[i]!
      // Shed what waited too long: the reader got its fallback.
      let old = 0
      while (old < w.length && now - w[old]! > o.maxWait) old++
      if (old > 0) {
        w.splice(0, old)
        shed += old
      }
      for (let j = 0; j < n; j++) w.push(now)
      drivers[i]!.wake()
    }
    if (clock.now() + TICK_MS < o.horizon) clock.setTimer(TICK_MS, tick)
  }
  tick()
  clock.runAll({ until: o.horizon, limit: 50_000_000 })
  path.stop()
  engine.close()
  const rates = hitRateSeries(series)
  recovered = recoveredAt(series)
  return {
    recoveredMs: recovered,
    peakPerSec: arrivals.peakPerSec,
    hitRate: rates,
    perSecond: Array.from(arrivals.perSecond.toArray()),
    shed,
    /** Hot-key fetches the caller had given up on (timed out): the key is fetched again. */
    failed,
    overTargetFraction: origin.overTargetMs / o.horizon,
    arrivals,
  }
}

/** Both runs; `hooks` see the slew run. */
export const simulateMetastable = (input: MetastableInput = {}, hooks: MetastableHooks = {}) => {
  const o = parse(input)
  const p = zipf(o.hotKeys, o.skew)
  const slew = runSlew(o, p, hooks)
  const naive = runNaive(o, p)
  const { arrivals: _a, ...slewOut } = slew
  const { ratePerSec, burst } = budgetOf(o)
  return {
    scenario: 'metastable' as const,
    options: o,
    budget: ratePerSec,
    burst,
    leaseTtlMs: LEASE_TTL_MS,
    /** B2 bound for a 1 s window: burst + budget·(1 s + lease TTL). */
    boundPerSec: burst + ratePerSec * (1 + LEASE_TTL_MS / 1000),
    capacity: o.capacity,
    warmHitRate: 1 - o.oneOff,
    naive,
    slew: { ...slewOut, idealRecoveryMs: o.idealRecoveryMs },
  }
}

export type MetastableResult = ReturnType<typeof simulateMetastable>

/**
 * The rewarm scenario: a content push that needs `work` key fetches across
 * the fleet (every client prefetches the same keys), against an origin of
 * finite capacity. Naive: every client fetches at its own concurrency at
 * once. slew: the real engine rolls the rewarm out in waves, each client
 * fetches under leased rewarm tokens, and the fleet token rate follows the
 * origin (AIMD on latency and errors), never above the budget — through the
 * coordinator's own control path: each client measures its origin calls
 * (`OriginStats`) and heartbeats them every second, and the rewarm loop
 * (`createRewarmLoop`) sets the rate from those every `rewarm.intervalMs`.
 */
import { z } from 'zod'
import { burstOf } from '../invalidation/budgets.js'
import { stepsSchema } from '../invalidation/change.js'
import { Engine } from '../invalidation/engine.js'
import { VirtualClock } from '../limiter/virtual-clock.js'
import { RefreshDriver } from '../refresh/driver.js'
import { nonNegative, parseOptions, positive, positiveInt } from '../validate.js'
import { CapacityOrigin } from './capacity-origin.js'
import { clientId, clientIndex } from './fleet.js'
import { Origin } from './origin.js'
import { rewarmControlPath } from './rewarm-path.js'
import { mulberry32 } from './rng.js'

export const rewarmSchema = z.strictObject({
  clients: positiveInt().default(100),
  /** Key fetches across the fleet (each client fetches work ÷ clients keys). @default 1000000 */
  work: positiveInt().default(1_000_000),
  /** Origin fetches per second it can serve. @default 1000 */
  capacity: positive().default(1000),
  /** The rewarm budget, fetches/s. @default 3 × capacity (the adaptive rate has to find the capacity) */
  budget: positive().optional(),
  /** Origin service time, ms. @default 50 */
  latency: positive().default(50),
  /** Origin p99 latency target, ms. @default 2 × latency */
  target: positive().optional(),
  /** Relative noise of the service time. @default 0.1 */
  noise: nonNegative().default(0.1),
  /** Share of origin fetches that fail whatever the load (retried by their client). @default 0 */
  baseErrors: z
    .number({ error: 'a number in [0, 0.5]' })
    .refine((x) => Number.isFinite(x) && x >= 0 && x <= 0.5, { error: 'a number in [0, 0.5]' })
    .default(0),
  /** Origin calls in flight per client. @default 16 */
  concurrency: positiveInt().default(16),
  steps: stepsSchema.default([0.01, 0.05, 0.25, 1]),
  bake: nonNegative().default(2000),
  ttl: positive().default(250),
  maxBatch: positiveInt().default(50),
  seed: z.number({ error: 'an integer' }).int({ error: 'an integer' }).default(1),
})

export type RewarmInput = z.input<typeof rewarmSchema>

interface Run {
  readonly completionMs: number
  readonly overTargetFraction: number
  readonly peakPerSec: number
  readonly perSecond: number[]
  /** Per second, the worst origin latency a fetch would have seen, ms. */
  readonly latency: number[]
  readonly fetches: number
}

const TIMER_LIMIT = 50_000_000

/** Everyone at once, each client at its own concurrency. */
const runNaive = (o: ReturnType<typeof parse>): Run => {
  const clock = new VirtualClock(0)
  const origin = new CapacityOrigin(clock, originOptions(o, mulberry32(o.seed ^ 0xa11)))
  const arrivals = new Origin(0)
  const perClient = Math.floor(o.work / o.clients)
  let done = 0
  let end = 0
  for (let i = 0; i < o.clients; i++) {
    let left = perClient
    const issue = (n: number) => {
      const k = Math.min(n, left)
      if (k <= 0) return
      left -= k
      arrivals.record(clock.now(), k)
      origin.request(k, (ok, failed) => {
        done += ok
        left += failed
        if (done === perClient * o.clients) end = clock.now()
        issue(ok + failed)
      })
    }
    issue(o.concurrency)
  }
  clock.runAll({ limit: TIMER_LIMIT })
  return runFigures(end, origin, arrivals)
}

export interface RewarmHooks {
  /** Every slew origin fetch, as it is made (for checking bounds). */
  readonly onFetch?: (at: number, count: number) => void
}

const runSlew = (o: ReturnType<typeof parse>, hooks: RewarmHooks) => {
  const clock = new VirtualClock(0)
  const random = mulberry32(o.seed)
  const origin = new CapacityOrigin(clock, originOptions(o, mulberry32(o.seed ^ 0xa11)))
  const arrivals = new Origin(0)
  const perClient = Math.floor(o.work / o.clients)
  const left = new Int32Array(o.clients)
  const inflight = new Int32Array(o.clients)
  const fetched = new Int32Array(o.clients)
  let done = 0
  let end = 0
  const drivers: RefreshDriver[] = []
  const engine = new Engine({
    clock,
    config: {
      budgets: { rewarm: budgetOf(o) },
      waves: { steps: o.steps, bakeMs: o.bake },
      leases: { ttlMs: o.ttl, maxBatch: o.maxBatch },
    },
    deliver: (d) => {
      for (const id of d.clientIds) {
        const i = clientIndex(id)
        left[i] = perClient
        drivers[i]!.wake()
      }
    },
  })
  const path = rewarmControlPath({
    clock,
    engine,
    target: o.target,
    clients: o.clients,
    seed: o.seed,
    cache: (i) => ({ entries: fetched[i]!, capacity: perClient }),
  })
  for (let i = 0; i < o.clients; i++) {
    const id = clientId(i)
    engine.join(id, { entries: 0 })
    drivers[i] = new RefreshDriver({
      clock,
      random,
      maxBatch: o.maxBatch,
      lease: (want) => path.lease(i, want),
      pending: () => Math.min(left[i]!, o.concurrency - inflight[i]!),
      run: (n) => {
        left[i]! -= n
        inflight[i]! += n
        arrivals.record(clock.now(), n)
        hooks.onFetch?.(clock.now(), n)
        origin.request(n, (ok, failed, latencies) => {
          path.observe(i, ok, latencies)
          inflight[i]! -= ok + failed
          left[i]! += failed
          fetched[i]! += ok
          done += ok
          if (done === perClient * o.clients) {
            end = clock.now()
            path.stop()
          }
          drivers[i]!.wake()
        })
      },
    })
  }
  engine.submit({
    kind: 'rewarm',
    target: { keys: Array.from({ length: perClient }, (_, k) => `k${k}`) },
    reason: 'simulate: rewarm',
  })
  clock.runAll({ limit: TIMER_LIMIT })
  engine.close()
  return {
    ...runFigures(end, origin, arrivals),
    meanRate: path.rates.length ? path.rates.reduce((a, b) => a + b, 0) / path.rates.length : 0,
    arrivals,
  }
}

const parse = (input: unknown) => {
  const o = parseOptions(rewarmSchema, input)
  return { ...o, budget: o.budget ?? 3 * o.capacity, target: o.target ?? 2 * o.latency }
}

/** The rewarm budget slew runs under: burst a tenth of the rate. */
const budgetOf = (o: ReturnType<typeof parse>) => ({
  ratePerSec: o.budget,
  burst: burstOf(o.budget),
})

/** What both runs report: completion, time over the latency target, and the origin's load. */
const runFigures = (end: number, origin: CapacityOrigin, arrivals: Origin) => ({
  completionMs: end,
  overTargetFraction: end > 0 ? origin.overTargetMs / end : 0,
  peakPerSec: arrivals.peakPerSec,
  perSecond: Array.from(arrivals.perSecond.toArray()),
  latency: origin.latencyPerSecond(),
  fetches: arrivals.total,
})

const originOptions = (o: ReturnType<typeof parse>, random: () => number) => ({
  capacity: o.capacity,
  baseLatencyMs: o.latency,
  noise: o.noise,
  baseErrors: o.baseErrors,
  targetLatencyMs: o.target,
  random,
})

/** slew's run alone (no naive comparison), e.g. to check its bounds. */
export const simulateRewarmSlew = (input: RewarmInput = {}, hooks: RewarmHooks = {}) => {
  const o = parse(input)
  const { arrivals: _a, ...run } = runSlew(o, hooks)
  return { options: o, budget: budgetOf(o), ...run }
}

export const simulateRewarm = (input: RewarmInput = {}) => {
  const o = parse(input)
  const slew = runSlew(o, {})
  const naive = runNaive(o)
  const work = Math.floor(o.work / o.clients) * o.clients
  const idealMs = (work / Math.min(o.capacity, o.budget)) * 1000
  const { arrivals: _a, ...slewOut } = slew
  const { burst } = budgetOf(o)
  return {
    scenario: 'rewarm' as const,
    options: o,
    work,
    budget: o.budget,
    burst,
    /** B2 bound for a 1 s window: burst + budget·(1 s + lease TTL). */
    boundPerSec: burst + o.budget * (1 + o.ttl / 1000),
    capacity: o.capacity,
    naive,
    slew: {
      ...slewOut,
      idealMs,
      efficiency: slew.completionMs > 0 ? idealMs / slew.completionMs : 0,
    },
  }
}

export type RewarmResult = ReturnType<typeof simulateRewarm>

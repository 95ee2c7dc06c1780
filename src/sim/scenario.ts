/**
 * The engine's scenario: one invalidate-all on a whole fleet, played twice
 * over the same fleet — naive broadcast, and slew (real engine + refresh
 * driver) — with the figures that say how they compare.
 */
import { z } from 'zod'
import { stepsSchema } from '../invalidation/change.js'
import { nonNegative, nonNegativeInt, parseOptions, positive, positiveInt } from '../validate.js'
import { generateFleet } from './fleet.js'
import { FleetSim } from './fleet-sim.js'
import { runNaive } from './naive.js'

export const simulateSchema = z
  .strictObject({
    /** Clients in the fleet. @default 10000 */
    clients: positiveInt().default(10_000),
    /** Mean cache entries per client. @default 100 */
    entries: nonNegativeInt().default(100),
    /** Origin budget, fetches per second (the invalidate class's ratePerSec). @default 1000 */
    budget: positive().default(1000),
    /** Burst, budget units. @default the budget (one second's worth) */
    burst: positive().optional(),
    /** Cumulative wave fractions. @default [0.01, 0.05, 0.25, 1] */
    steps: stepsSchema.default([0.01, 0.05, 0.25, 1]),
    /** Bake time between waves, ms. @default 2000 */
    bake: nonNegative().default(2000),
    seed: z.number({ error: 'an integer' }).int({ error: 'an integer' }).default(1),
    /** Mean requests per second per client (drives the naive refetch times). @default 20 */
    rps: positive().default(20),
    /** Zipf exponent of key popularity. @default 1 */
    skew: nonNegative().default(1),
    /** Relative spread of cache sizes and request rates. @default 0.5 */
    spread: nonNegative()
      .refine((x) => x < 1, { error: 'a number in [0, 1)' })
      .default(0.5),
    /** Refetch-token lease TTL, ms. @default 250 */
    ttl: positive().default(250),
    /** Most tokens per lease. @default 50 */
    maxBatch: positiveInt().default(50),
    shards: positiveInt().default(100),
    mode: z.enum(['soft', 'hard']).default('soft'),
  })
  .refine((o) => o.clients <= 10_000_000, { error: 'at most 10,000,000', path: ['clients'] })

export type SimulateInput = z.input<typeof simulateSchema>
export type SimulateOptions = z.output<typeof simulateSchema>

export interface SimulateResult {
  readonly scenario: 'invalidate-all'
  readonly options: SimulateOptions & { burst: number }
  readonly fleet: { readonly clients: number; readonly totalEntries: number }
  /** B2 bound for a 1 s window: burst + budget·(1 s + lease TTL). */
  readonly boundPerSec: number
  readonly naive: {
    readonly peakPerSec: number
    readonly amplification: number
    readonly totalFetches: number
    readonly perSecond: number[]
  }
  readonly slew: {
    readonly peakPerSec: number
    readonly amplification: number
    readonly completionMs: number
    readonly idealMs: number
    readonly efficiency: number
    /** When the last refetch happened: every cache is fresh again. */
    readonly convergedMs: number
    readonly totalFetches: number
    readonly deliveredCost: number
    readonly waves: readonly {
      readonly index: number
      readonly shards: readonly [number, number]
      readonly clients: number
      readonly cost: number
      readonly startMs: number
      readonly endMs: number
    }[]
    readonly perSecond: number[]
  }
  /** naive.peakPerSec ÷ slew.peakPerSec */
  readonly peakRatio: number
}

export const parseSimulateOptions = (input: unknown) => parseOptions(simulateSchema, input)

export interface SimulateHooks {
  /** Called now and then with client deliveries done and to do. */
  readonly onProgress?: (done: number, total: number) => void
}

export const simulate = (input: SimulateInput = {}, hooks: SimulateHooks = {}): SimulateResult => {
  const o = parseSimulateOptions(input)
  const burst = o.burst ?? o.budget
  const fleet = generateFleet({
    clients: o.clients,
    entries: o.entries,
    rps: o.rps,
    spread: o.spread,
    seed: o.seed,
  })
  const budget = { ratePerSec: o.budget, burst }
  const sim = new FleetSim({
    fleet,
    seed: o.seed,
    engine: {
      shards: o.shards,
      budgets: { invalidate: budget },
      waves: { steps: o.steps, bakeMs: o.bake },
      leases: { ttlMs: o.ttl, maxBatch: o.maxBatch },
    },
  })
  const { rollout } = sim.engine.submit({
    kind: 'invalidate',
    target: { all: true },
    mode: o.mode,
    reason: 'simulate: invalidate-all',
  })
  sim.run(Number.POSITIVE_INFINITY, () => hooks.onProgress?.(sim.deliveredCount, fleet.size))
  const done = sim.engine.get(rollout.id)
  const boundPerSec = burst + o.budget * (1 + o.ttl / 1000)
  const completionMs = (done.endedAt ?? sim.clock.now()) - done.createdAt
  const bakes = Math.max(0, done.waves.length - 1) * done.bakeMs
  const idealMs = (done.deliveredCost / o.budget) * 1000 + bakes
  const convergedMs = Math.max(
    completionMs,
    Number.isNaN(sim.origin.lastAt) ? 0 : sim.origin.lastAt,
  )
  const naive = runNaive(fleet, {
    skew: o.skew,
    horizonMs: Math.max(60_000, convergedMs + 1000),
    seed: o.seed,
  })
  const slewPeak = sim.origin.peakPerSec
  return {
    scenario: 'invalidate-all',
    options: { ...o, burst },
    fleet: { clients: fleet.size, totalEntries: fleet.totalEntries },
    boundPerSec,
    naive: {
      peakPerSec: naive.peakPerSec,
      amplification: naive.peakPerSec / boundPerSec,
      totalFetches: naive.total,
      perSecond: Array.from(naive.perSecond),
    },
    slew: {
      peakPerSec: slewPeak,
      amplification: slewPeak / boundPerSec,
      completionMs,
      idealMs,
      efficiency: completionMs > 0 ? idealMs / completionMs : 1,
      convergedMs,
      totalFetches: sim.origin.total,
      deliveredCost: done.deliveredCost,
      waves: done.waves.map((w) => ({
        index: w.index,
        shards: [w.lo, w.hi] as const,
        clients: w.delivered ?? 0,
        cost: w.cost ?? 0,
        startMs: w.startedAt ?? 0,
        endMs: w.deliveredAt ?? w.startedAt ?? 0,
      })),
      perSecond: Array.from(sim.origin.perSecond.toArray()),
    },
    peakRatio: slewPeak > 0 ? naive.peakPerSec / slewPeak : Number.POSITIVE_INFINITY,
  }
}

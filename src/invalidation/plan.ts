/**
 * A dry run: the real engine on a virtual clock over a given fleet, so the
 * plan printed offline is the plan the coordinator will run (same planner,
 * same pacer, same budget arithmetic). Assumes the class budget is otherwise
 * idle and every client stays connected.
 */

import { VirtualClock } from '../limiter/virtual-clock.js'
import { SlidingPeak } from '../limiter/window.js'
import { budgetClassOf, deliveryCost, keysOnly, parseChange } from './change.js'
import { Engine } from './engine.js'
import type { EngineConfig, EngineConfigInput } from './options.js'
import { type KeysCost, SMALL_ENTRIES } from './registry.js'
import type { RolloutView } from './rollout.js'
import { shardsOf } from './shard.js'

export interface PlannedWave {
  readonly index: number
  readonly shards: readonly [number, number]
  readonly fraction: number
  readonly clients: number
  readonly cost: number
  readonly startMs: number
  readonly endMs: number
}

export interface Plan {
  readonly waves: readonly PlannedWave[]
  readonly clients: number
  readonly totalCost: number
  /** Time to the last delivery. */
  readonly estimatedMs: number
  /** Total cost ÷ rate plus the bakes between waves: what L measures against. */
  readonly idealMs: number
  /** Most delivery cost in any 1 s window (B1 keeps it ≤ burst + rate). */
  readonly peakUnitsPerSec: number
  /** The origin bound for refetches in any 1 s window (B2): burst + rate·(1 s + lease TTL). */
  readonly originBoundPerSec: number
  readonly budget: { readonly ratePerSec: number; readonly burst: number }
}

export interface PlanFleet {
  readonly size: number
  /** Client i's id. */
  id(i: number): string
  /** Client i's reported entries (undefined: not reported). */
  entries(i: number): number | undefined
  /** Client i's reported cache capacity (undefined: not reported). */
  capacity?(i: number): number | undefined
}

export const planChange = (
  fleet: PlanFleet,
  change: unknown,
  config: EngineConfigInput = {},
): Plan => {
  const parsed = parseChange(change)
  const clock = new VirtualClock(0)
  const peak = new SlidingPeak(1000)
  const engine = new Engine({ clock, config, deliver: (d) => peak.add(d.at, d.cost) })
  for (let i = 0; i < fleet.size; i++) {
    const entries = fleet.entries(i)
    engine.join(fleet.id(i), entries === undefined ? {} : { entries })
    const capacity = fleet.capacity?.(i)
    if (capacity !== undefined && entries !== undefined)
      engine.report(fleet.id(i), entries, capacity)
  }
  const { rollout } = engine.submit(parsed)
  clock.runAll()
  const done = engine.get(rollout.id)
  engine.close()
  const budget = engine.config.budgets[budgetClassOf(done.change)]
  const totalCost = done.deliveredCost
  const bakes = bakesMs(done)
  return {
    waves: done.waves.map((w) => ({
      index: w.index,
      shards: [w.lo, w.hi] as const,
      fraction: w.fraction,
      clients: w.delivered ?? 0,
      cost: w.cost ?? 0,
      startMs: w.startedAt ?? 0,
      endMs: w.deliveredAt ?? w.startedAt ?? 0,
    })),
    clients: done.delivered,
    totalCost,
    estimatedMs: done.endedAt ?? clock.now(),
    idealMs: (totalCost / budget.ratePerSec) * 1000 + bakes,
    peakUnitsPerSec: peak.peak,
    originBoundPerSec: budget.burst + budget.ratePerSec * (1 + engine.config.leases.ttlMs / 1000),
    budget: { ratePerSec: budget.ratePerSec, burst: budget.burst },
  }
}

/** The bakes between a rollout's waves, ms (none after the last). */
const bakesMs = (r: Pick<RolloutView, 'waves' | 'bakeMs'>): number =>
  Math.max(0, r.waves.length - 1) * r.bakeMs

/** A wave of a submitted rollout: who is in it now and what delivering to them costs. */
export interface EstimatedWave {
  readonly index: number
  readonly shards: [number, number]
  readonly fraction: number
  readonly clients: number
  readonly cost: number
}

/** A client as the engine knows it (`Engine.clients()`). */
export interface EstimateClient {
  readonly id: string
  readonly live: boolean
  readonly entries: number | undefined
  readonly capacity?: number
}

/** The live fleet's sums (Registry.keysCost): a keys-only change's plan needs no pass over it. */
export interface FleetSums {
  readonly live: number
  keysCost(keys: number, fallback: number, most: number): KeysCost
}

/**
 * The plan of a rollout just submitted, in closed form (the answer to a
 * push): the live clients in each wave now, their delivery cost, and about
 * how long it takes — the cost past the burst at the class's rate, plus
 * the bakes — and the most cost per second it sends. A wave already
 * started counts the clients it was queued for: a keys-only change skips
 * the clients whose key sketch rules its keys out (`skipped`), and its cost
 * is that share of the wave's. A one-wave change to a few keys is planned
 * from the fleet's sums (`sums`), without a pass over the clients.
 */
export const estimateRollout = (
  r: Pick<RolloutView, 'id' | 'change' | 'waves' | 'bakeMs'>,
  clients: Iterable<EstimateClient>,
  config: Pick<EngineConfig, 'budgets' | 'shards' | 'defaultEntries'>,
  sums?: FleetSums,
): { waves: EstimatedWave[]; estimatedMs: number; peakUnitsPerSec: number } => {
  const waves = r.waves.map((w) => ({
    index: w.index,
    shards: [w.lo, w.hi] as [number, number],
    fraction: w.fraction,
    clients: 0,
    cost: 0,
  }))
  const budget = config.budgets[budgetClassOf(r.change)]
  const keys = keysOnly(r.change, SMALL_ENTRIES)?.length
  const one = waves.length === 1 ? waves[0] : undefined
  if (one && sums && keys !== undefined) {
    one.clients = sums.live
    one.cost = sums.keysCost(keys, config.defaultEntries, budget.burst).units
  } else {
    const shardOfClient = shardsOf(r.id, config.shards)
    for (const client of clients) {
      if (!client.live) continue
      const shard = one ? 0 : shardOfClient(client.id)
      const w = one ?? waves.find((x) => shard >= x.shards[0] && shard < x.shards[1])
      if (!w) continue
      w.clients++
      const entries = client.entries ?? config.defaultEntries
      w.cost += deliveryCost(r.change, entries, client.capacity, budget.burst)
    }
  }
  // A started wave went to the clients it queued: all of its live ones, less those a sketch ruled out.
  r.waves.forEach((w, i) => {
    if (w.queued === undefined || !w.skipped) return
    const e = waves[i]!
    const all = w.queued + w.skipped
    e.cost = e.clients > 0 ? Math.round((e.cost * w.queued) / all) : w.queued
    e.clients = w.queued
  })
  const cost = waves.reduce((n, w) => n + w.cost, 0)
  return {
    waves,
    estimatedMs: Math.round(
      (Math.max(0, cost - budget.burst) / budget.ratePerSec) * 1000 + bakesMs(r),
    ),
    peakUnitsPerSec: Math.min(cost, budget.burst + budget.ratePerSec),
  }
}

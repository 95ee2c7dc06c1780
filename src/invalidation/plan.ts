/**
 * A dry run: the real engine on a virtual clock over a given fleet, so the
 * plan printed offline is the plan the coordinator will run (same planner,
 * same pacer, same budget arithmetic). Assumes the class budget is otherwise
 * idle and every client stays connected.
 */

import { VirtualClock } from '../limiter/virtual-clock.js'
import { SlidingPeak } from '../limiter/window.js'
import { budgetClassOf, parseChange } from './change.js'
import { Engine } from './engine.js'
import type { EngineConfigInput } from './options.js'

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
  const bakes = Math.max(0, done.waves.length - 1) * done.bakeMs
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

/**
 * The rewarm control loop on the coordinator's fleet tracker: each
 * heartbeat's origin figures count in one control step (a step that counted
 * the previous interval's again reacted to old news), and a heartbeat's
 * rewarm progress is not kept as health.
 */
import { describe, expect, it } from 'vitest'
import { configSchema } from '../../src/config/schema.js'
import { FleetTracker } from '../../src/coordinator/fleet.js'
import { createRewarmLoop } from '../../src/warmup/rewarm-loop.js'

describe('rewarm control loop', () => {
  it('counts each heartbeat in one control step', () => {
    const config = configSchema.parse({ rewarm: { intervalMs: 1000, targetLatencyMs: 200 } })
    const fleet = new FleetTracker()
    let now = 0
    const seen: number[] = []
    const control = createRewarmLoop({
      rewarm: () => config.rewarm,
      budget: () => config.budgets.rewarm,
      fleet,
      setRate: () => {},
      now: () => now,
      observe: (health) => seen.push(health.samples),
    })
    const beat = (id: string, at: number) =>
      fleet.heartbeat(id, { calls: 100, latencyP50: 20, latencyP99: 40, errorRate: 0 }, at)
    beat('a', 500)
    now = 1000
    control.tick()
    beat('b', 1000) // after the step, at the same millisecond: the next step's
    now = 2000
    control.tick()
    now = 3000
    control.tick() // nothing new
    beat('a', 3500)
    beat('b', 3900)
    now = 4000
    control.tick()
    expect(seen).toEqual([100, 100, 0, 200])
  })
})

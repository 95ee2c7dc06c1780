/**
 * The rewarm control loop on the coordinator's fleet tracker: each
 * heartbeat's origin figures count in one control step (a step that counted
 * the previous interval's again reacted to old news), and a heartbeat's
 * rewarm progress is not kept as health.
 */
import { describe, expect, it } from 'vitest'
import { configSchema } from '../../src/config/schema.js'
import { FleetTracker } from '../../src/coordinator/fleet.js'
import { type OriginHealthFigures, originLatency } from '../../src/warmup/fleet-health.js'
import { createRewarmLoop } from '../../src/warmup/rewarm-loop.js'

/** The loop on `fleet`, a step a second, steering to `targetLatencyMs`; `observe` sees each step. */
const loopOn = (
  fleet: FleetTracker,
  targetLatencyMs: number,
  now: () => number,
  observe: (health: OriginHealthFigures) => void,
) => {
  const config = configSchema.parse({ rewarm: { intervalMs: 1000, targetLatencyMs } })
  return createRewarmLoop({
    rewarm: () => config.rewarm,
    budget: () => config.budgets.rewarm,
    fleet,
    setRate: () => {},
    now,
    observe,
  })
}

describe('rewarm control loop', () => {
  it('counts each heartbeat in one control step', () => {
    const fleet = new FleetTracker()
    let now = 0
    const seen: number[] = []
    const control = loopOn(
      fleet,
      200,
      () => now,
      (health) => seen.push(health.samples),
    )
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

describe("the app's own loop lag", () => {
  it('is taken out of each client’s latency before the rate is set', () => {
    const fleet = new FleetTracker()
    let now = 0
    const seen: { p50?: number; p99?: number }[] = []
    const control = loopOn(
      fleet,
      20,
      () => now,
      (health) => seen.push(health),
    )
    // A busy app server: its answers waited ~25 ms for its loop; an idle one reports no lag.
    fleet.heartbeat(
      'busy',
      { calls: 300, latencyP50: 4, latencyP99: 30, loopDelayP50: 1.5, loopDelayP99: 25 },
      500,
    )
    fleet.heartbeat('idle', { calls: 100, latencyP50: 2, latencyP99: 6 }, 600)
    now = 1000
    control.tick()
    expect(seen[0]!.p50).toBeCloseTo((300 * 2.5 + 100 * 2) / 400, 9)
    expect(seen[0]!.p99).toBeCloseTo((300 * 5 + 100 * 6) / 400, 9)
  })

  it('never makes a p99 below the median, nor a latency below zero', () => {
    expect(
      originLatency({ latencyP50: 3, latencyP99: 10, loopDelayP50: 1, loopDelayP99: 40 }),
    ).toEqual({ p50: 2, p99: 2 })
    expect(
      originLatency({ latencyP50: 1, latencyP99: 2, loopDelayP50: 5, loopDelayP99: 9 }),
    ).toEqual({
      p50: 0,
      p99: 0,
    })
  })
})

describe("the fleet's throughput", () => {
  it('is each client’s calls over its own interval: heartbeats in phase do not make it swing', () => {
    const fleet = new FleetTracker()
    // Ten clients that got a rewarm together beat in phase, every second, 300 calls each;
    // the control steps every 500 ms: every other step hears all of them, the next none.
    const seen: (number | undefined)[] = []
    for (let t = 1000; t <= 4000; t += 500) {
      if (t % 1000 === 0)
        for (let i = 0; i < 10; i++)
          fleet.heartbeat(
            `c${i}`,
            { calls: 300, latencyP50: 2, latencyP99: 5, intervalMs: 1000 },
            t,
          )
      seen.push(fleet.originHealth(t - 1000, 0, t + 1).throughput)
    }
    expect(seen).toEqual(seen.map(() => 3000))
    // A client that stopped reporting stops counting once its interval and a second have passed
    // (none current: no figure, and the controller counts the calls of its step instead).
    fleet.heartbeat('c0', { calls: 300, intervalMs: 1000 }, 5000)
    expect(fleet.originHealth(0, 0, 5000 + 2001).throughput).toBeUndefined()
    expect(fleet.originHealth(0, 0, 5000 + 1999).throughput).toBe(300)
  })
})

/**
 * A wake of the pacer takes time: its deliveries are stamped with the instant
 * their budget was charged at, so B1 holds in the recorded times themselves
 * (what a check of the delivery log sees), however slow the wake.
 */
import { describe, expect, it } from 'vitest'
import { type Delivery, Engine } from '../../src/invalidation/engine.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'
import type { Clock } from '../../src/model/clock.js'
import { overB1 } from '../property/check.js'

describe('pacer timestamps', () => {
  it('keep B1 in the recorded times when every reading of the clock costs time', () => {
    const virtual = new VirtualClock(0)
    // Each reading is 0.05 ms after the one before: the work between two readings.
    let work = 0
    const clock: Clock = {
      now: () => {
        work += 0.05
        return virtual.now() + work
      },
      setTimer: (ms, fn) => virtual.setTimer(ms, fn),
    }
    const deliveries: Delivery[] = []
    const engine = new Engine({
      clock,
      config: {
        budgets: { invalidate: { ratePerSec: 100, burst: 40 } },
        waves: { steps: [1], bakeMs: 0 },
      },
      deliver: (d) => deliveries.push(d),
    })
    for (let i = 0; i < 50; i++) engine.join(`c${i}`, { entries: 10 })
    const { rollout } = engine.submit({ kind: 'invalidate', target: { all: true } })
    while (engine.get(rollout.id).state !== 'completed') virtual.advance(10)
    const costs = deliveries.flatMap((d) => d.costs.map((c) => [d.at, c] as const))
    expect(costs).toHaveLength(50)
    expect(overB1(costs, 100, 40)).toBeUndefined()
    engine.close()
  })
})

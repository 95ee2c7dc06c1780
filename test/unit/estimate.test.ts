/**
 * The plan a push is answered with (estimateRollout): every live client in
 * the wave its shard falls in, its delivery cost, and the closed-form time:
 * the cost past the burst at the class's rate, plus the bakes.
 */
import { describe, expect, it } from 'vitest'
import { estimateRollout } from '../../src/invalidation/plan.js'
import { harness } from '../helpers/engine.js'

describe('estimateRollout', () => {
  it("counts each live client once, at its cost, and times the rest past the burst at the class's rate", () => {
    const h = harness(
      {
        budgets: { invalidate: { ratePerSec: 100, burst: 50 } },
        waves: { steps: [0.1, 0.5, 1], bakeMs: 1000 },
      },
      { clients: 200, entries: 10 },
    )
    h.engine.leave([...h.engine.clients()][0]!.id)
    const { rollout } = h.engine.submit({ kind: 'invalidate', target: { all: true } })
    const plan = estimateRollout(rollout, h.engine.clients(), h.engine.config)
    expect(plan.waves.map((w) => w.shards)).toEqual(rollout.waves.map((w) => [w.lo, w.hi]))
    expect(plan.waves.reduce((n, w) => n + w.clients, 0)).toBe(199)
    const cost = plan.waves.reduce((n, w) => n + w.cost, 0)
    expect(cost).toBe(1990)
    expect(plan.estimatedMs).toBe(Math.round(((cost - 50) / 100) * 1000 + 2 * 1000))
    expect(plan.peakUnitsPerSec).toBe(150)
  })

  it('plans a one-wave change to a few keys from the fleet sums as a pass over the clients would', () => {
    const h = harness({
      budgets: { invalidate: { ratePerSec: 100, burst: 3 } },
      waves: { steps: [1], bakeMs: 0 },
      defaultEntries: 2,
    })
    // Entries below, at and above the key count, one unknown, one gone.
    const entries = [0, 1, 2, 3, 4, 5, 8, 100, undefined, 7]
    entries.forEach((e, i) => {
      h.engine.join(`c${i}`, e === undefined ? {} : { entries: e })
    })
    h.engine.leave('c9')
    for (const keys of [1, 4, 6]) {
      const target = { keys: Array.from({ length: keys }, (_, i) => `k${keys}:${i}`) }
      const { rollout } = h.engine.submit({ kind: 'invalidate', target })
      const pass = estimateRollout(rollout, h.engine.clients(), h.engine.config)
      const sums = estimateRollout(rollout, [], h.engine.config, h.engine.fleetSums)
      expect(sums).toEqual(pass)
      expect(sums.waves[0]!.clients).toBe(9)
    }
  })
})

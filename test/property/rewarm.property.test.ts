/**
 * Rewarm never exceeds its budget: for arbitrary origin capacities, latency
 * noise, budgets and fleets, the origin fetches of a rewarm in any window
 * stay within burst + budget·(T + lease TTL), whatever the adaptive rate does.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { simulateRewarmSlew } from '../../src/sim/rewarm.js'
import { peakOver, SLACK, WINDOWS } from './check.js'
import { params } from './runs.js'

const caseArb = fc.record({
  clients: fc.integer({ min: 1, max: 12 }),
  work: fc.integer({ min: 50, max: 4000 }),
  capacity: fc.double({ min: 20, max: 3000, noNaN: true }),
  budget: fc.double({ min: 5, max: 6000, noNaN: true }),
  noise: fc.double({ min: 0, max: 0.6, noNaN: true }),
  latency: fc.double({ min: 1, max: 300, noNaN: true }),
  concurrency: fc.integer({ min: 1, max: 40 }),
  ttl: fc.integer({ min: 10, max: 1000 }),
  maxBatch: fc.integer({ min: 1, max: 60 }),
  seed: fc.integer(),
})

describe('rewarm budget', () => {
  it('the origin never sees more than burst + budget·(T + lease TTL) in any window', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const fetches: [number, number][] = []
        const r = simulateRewarmSlew(
          { ...c, steps: [0.5, 1], bake: 100 },
          { onFetch: (at, n) => fetches.push([at, n]) },
        )
        expect(r.fetches).toBe(Math.floor(c.work / c.clients) * c.clients)
        const { ratePerSec, burst } = r.budget
        for (const w of WINDOWS) {
          expect(peakOver(fetches, w)).toBeLessThanOrEqual(
            burst + (ratePerSec * (w + c.ttl)) / 1000 + SLACK,
          )
        }
      }),
      params(),
    )
  })
})

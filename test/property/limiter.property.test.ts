/** The budget itself: any mix of takes, grants and reservations at any clock steps stays within its bound. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Bucket } from '../../src/limiter/bucket.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'
import { budgetArb } from './arbitraries.js'
import { peakOver, SLACK, WINDOWS } from './check.js'
import { params } from './runs.js'

const opArb = fc.record({
  step: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 0, max: 500 }),
    fc.double({ min: 0, max: 500, noNaN: true }),
  ),
  op: fc.constantFrom('take' as const, 'grant' as const, 'reserve' as const),
  n: fc.integer({ min: 1, max: 40 }),
})

describe('GCRA budget', () => {
  it('any window carries at most max(burst, largest cost) + rate·T, whatever the clock does', () => {
    fc.assert(
      // Start at 0 or at a real-clock epoch, where a double resolves only ~2.4e-4 ms.
      fc.property(
        budgetArb,
        fc.constantFrom(0, 1.7e12),
        fc.array(opArb, { maxLength: 300 }),
        (budget, start, ops) => {
          const clock = new VirtualClock(start)
          const bucket = new Bucket(budget, clock)
          const used: [number, number][] = []
          const reserved: [number, number][] = []
          let largest = 0
          for (const { step, op, n } of ops) {
            clock.advance(step)
            if (op === 'take') {
              if (bucket.take(n).ok) used.push([clock.now(), n])
              largest = Math.max(largest, n)
            } else if (op === 'grant') {
              const g = bucket.grant(n)
              expect(g.granted).toBeGreaterThanOrEqual(0)
              expect(g.granted).toBeLessThanOrEqual(n)
              if (g.granted > 0) used.push([clock.now(), g.granted])
            } else {
              // A reservation counts when it may be used.
              reserved.push([clock.now() + bucket.reserve(n), n])
              largest = Math.max(largest, n)
            }
          }
          const all = [...used, ...reserved].sort((a, b) => a[0] - b[0])
          const cap = Math.max(budget.burst, largest)
          for (const w of WINDOWS)
            expect(peakOver(all, w)).toBeLessThanOrEqual(
              cap + (budget.ratePerSec * w) / 1000 + SLACK,
            )
        },
      ),
      params(),
    )
  })
})

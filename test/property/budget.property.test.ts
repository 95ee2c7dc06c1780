/**
 * B1 (delivery slew) and B2 / A (origin slew, amplification ≤ 1) for
 * arbitrary event sequences: changes of every kind and size, duplicates,
 * overlaps, invalidate-all storms, clients joining and leaving,
 * pause/resume/abort/rollback, coordinator restarts, arbitrary clock steps.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseEngineConfig } from '../../src/invalidation/options.js'
import { type BudgetClass, budgetClasses, budgetClassOf } from '../../src/model/budget.js'
import { refetchClasses } from '../../src/sim/fleet-sim.js'
import { scenarioArb } from './arbitraries.js'
import { peakOver, SLACK, WINDOWS } from './check.js'
import { play } from './play.js'
import { params } from './runs.js'

describe('budget guarantees', () => {
  it('B1: in every window, every class delivers at most burst + rate·T', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { sim } = play(s)
        const config = parseEngineConfig(s.config)
        const byClass = new Map<BudgetClass, [number, number][]>(budgetClasses.map((c) => [c, []]))
        for (const d of sim.deliveries) {
          const cls = budgetClassOf(d.change)
          // No delivery costs more than its class's burst, whatever the client's size.
          for (const cost of d.costs) byClass.get(cls)!.push([d.at, cost])
        }
        for (const cls of budgetClasses) {
          const { ratePerSec, burst } = config.budgets[cls]
          for (const [, cost] of byClass.get(cls)!) expect(cost).toBeLessThanOrEqual(burst)
          for (const w of WINDOWS) {
            expect(peakOver(byClass.get(cls)!, w)).toBeLessThanOrEqual(
              burst + (ratePerSec * w) / 1000 + SLACK,
            )
          }
        }
      }),
      params(),
    )
  })

  it('B2 and A: refetches in any window ≤ burst + rate·(T + lease TTL); amplification ≤ 1', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { sim } = play(s)
        const config = parseEngineConfig(s.config)
        const ttl = config.leases.ttlMs
        let boundAll = 0
        for (const cls of refetchClasses) {
          const { ratePerSec, burst } = config.budgets[cls]
          const fetches = sim.fetchLog
            .filter((f) => f.budgetClass === cls)
            .map((f) => [f.at, f.count] as const)
          for (const w of WINDOWS) {
            expect(peakOver(fetches, w)).toBeLessThanOrEqual(
              burst + (ratePerSec * (w + ttl)) / 1000 + SLACK,
            )
          }
          const bound1s = burst + ratePerSec * (1 + ttl / 1000)
          expect(sim.originByClass[cls].peakPerSec / bound1s).toBeLessThanOrEqual(1 + 1e-9)
          boundAll += bound1s
        }
        // Fleet-wide, all classes together: amplification = peak ÷ the sum of the class bounds.
        expect(sim.origin.peakPerSec / boundAll).toBeLessThanOrEqual(1 + 1e-9)
        // Nothing is left waiting: every stale entry was refetched under a token.
        expect(sim.pendingRefetches()).toBe(0)
      }),
      params(),
    )
  })
})

/**
 * L: when not paused, a class's rollouts complete within
 * 1.10 × (delivered cost ÷ rate) + bake times + one batch interval (the time
 * the budget takes to earn the largest single delivery), for arbitrary
 * fleets, budgets, wave plans, clients joining and leaving, and restarts.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { generateFleet } from '../../src/sim/fleet.js'
import { FleetSim } from '../../src/sim/fleet-sim.js'
import { budgetArb, stepsArb } from './arbitraries.js'
import { params } from './runs.js'

const caseArb = fc.record({
  clients: fc.integer({ min: 1, max: 60 }),
  entries: fc.integer({ min: 0, max: 50 }),
  spread: fc.double({ min: 0, max: 0.9, noNaN: true }),
  seed: fc.integer(),
  budget: budgetArb,
  shards: fc.integer({ min: 1, max: 20 }),
  rollouts: fc.array(
    fc.record({
      target: fc.oneof(
        fc.constant({ all: true }),
        fc.record({
          keys: fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { minLength: 1 }),
        }),
      ),
      steps: stepsArb,
      bakeMs: fc.integer({ min: 0, max: 3000 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  churn: fc.array(
    fc.record({
      at: fc.double({ min: 0, max: 30_000, noNaN: true }),
      client: fc.nat(),
      join: fc.boolean(),
    }),
    { maxLength: 10 },
  ),
  restarts: fc.array(fc.double({ min: 0, max: 30_000, noNaN: true }), { maxLength: 3 }),
})

describe('liveness and efficiency', () => {
  it('L: completion ≤ 1.10 × cost ÷ rate + bakes + one batch interval', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const fleet = generateFleet({
          clients: c.clients,
          entries: c.entries,
          rps: 1,
          spread: c.spread,
          seed: c.seed,
        })
        const sim = new FleetSim({
          fleet,
          seed: c.seed,
          engine: { shards: c.shards, budgets: { invalidate: c.budget } },
        })
        const ids = c.rollouts.map(
          (r, k) =>
            sim.engine.submit({
              kind: 'invalidate',
              target: r.target,
              reason: `r${k}`,
              idempotencyKey: `r${k}`,
              waves: { steps: r.steps, bakeMs: r.bakeMs },
            }).rollout.id,
        )
        for (const e of c.churn)
          sim.at(e.at, () =>
            e.join ? sim.join(e.client % fleet.size) : sim.leave(e.client % fleet.size),
          )
        for (const at of c.restarts) sim.at(at, () => sim.restart())
        sim.clock.runAll({ limit: 1_000_000 })
        const views = [...new Set(ids)].map((id) => sim.engine.get(id))
        for (const v of views) expect(v.state).toBe('completed')
        const end = Math.max(...views.map((v) => v.endedAt!))
        const deliveries = sim.deliveries.filter((d) => d.at <= end)
        const cost = deliveries.reduce((sum, d) => sum + d.cost, 0)
        const largest = Math.max(0, ...deliveries.flatMap((d) => d.costs))
        const bakes = views.reduce((sum, v) => sum + (v.waves.length - 1) * v.bakeMs, 0)
        const perUnit = 1000 / c.budget.ratePerSec
        const bound = 1.1 * cost * perUnit + bakes + largest * perUnit
        expect(end).toBeLessThanOrEqual(bound + 1e-6)
      }),
      params(),
    )
  })

  it('L: one invalidate-all on a static fleet finishes within 1.10 × ideal + one batch interval', () => {
    fc.assert(
      fc.property(
        fc.record({
          clients: fc.integer({ min: 1, max: 300 }),
          entries: fc.integer({ min: 1, max: 200 }),
          budget: budgetArb,
          steps: stepsArb,
          bakeMs: fc.integer({ min: 0, max: 5000 }),
          seed: fc.integer(),
        }),
        (c) => {
          const fleet = generateFleet({
            clients: c.clients,
            entries: c.entries,
            rps: 1,
            spread: 0.5,
            seed: c.seed,
          })
          const sim = new FleetSim({
            fleet,
            seed: c.seed,
            engine: {
              budgets: { invalidate: c.budget },
              waves: { steps: c.steps, bakeMs: c.bakeMs },
            },
          })
          const { rollout } = sim.engine.submit({ kind: 'invalidate', target: { all: true } })
          sim.clock.runAll({ limit: 1_000_000 })
          const v = sim.engine.get(rollout.id)
          expect(v.state).toBe('completed')
          expect(v.delivered).toBe(c.clients)
          const perUnit = 1000 / c.budget.ratePerSec
          const ideal = v.deliveredCost * perUnit + (v.waves.length - 1) * c.bakeMs
          const largest = Math.max(1, fleet.maxEntries)
          expect(v.endedAt! - v.createdAt).toBeLessThanOrEqual(
            1.1 * ideal + largest * perUnit + 1e-6,
          )
        },
      ),
      params(),
    )
  })
})

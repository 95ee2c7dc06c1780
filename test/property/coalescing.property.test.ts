/**
 * C: identical pushes — the same idempotency key at any time, or the same
 * target while the first is still rolling — cost what one push costs: the
 * same deliveries to the same clients, once each, and the same origin load.
 * A push that reuses the key for another change is refused
 * (E_IDEMPOTENCY_CONFLICT) and changes nothing.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { generateFleet } from '../../src/sim/fleet.js'
import { FleetSim } from '../../src/sim/fleet-sim.js'
import { budgetArb, stepsArb, targetArb } from './arbitraries.js'
import { params } from './runs.js'

const caseArb = fc.record({
  clients: fc.integer({ min: 1, max: 50 }),
  entries: fc.integer({ min: 0, max: 30 }),
  seed: fc.integer(),
  budget: budgetArb,
  steps: stepsArb,
  bakeMs: fc.integer({ min: 0, max: 2000 }),
  target: targetArb,
  mode: fc.constantFrom('soft' as const, 'hard' as const),
  duplicates: fc.array(
    fc.record({
      /** When, as a fraction of the single push's duration. */
      at: fc.double({ min: 0, max: 0.999, noNaN: true }),
      by: fc.constantFrom(
        'key' as const,
        'target' as const,
        'key-after-completion' as const,
        'key-other-change' as const,
      ),
      reason: fc.string({ maxLength: 8 }),
    }),
    { minLength: 1, maxLength: 8 },
  ),
})

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never

const run = (c: Case, withDuplicates: boolean, duration = 0) => {
  const fleet = generateFleet({
    clients: c.clients,
    entries: c.entries,
    rps: 1,
    spread: 0.3,
    seed: c.seed,
  })
  const sim = new FleetSim({
    fleet,
    seed: c.seed,
    engine: {
      budgets: { invalidate: c.budget, urgent: c.budget },
      waves: { steps: c.steps, bakeMs: c.bakeMs },
    },
  })
  const change = { kind: 'invalidate', target: c.target, mode: c.mode, idempotencyKey: 'push-1' }
  const first = sim.engine.submit(change).rollout
  const answers: string[] = []
  if (withDuplicates) {
    for (const d of c.duplicates) {
      // A push that completes at once (within the burst, one wave) leaves no "while rolling" window.
      const by = d.by === 'target' && duration === 0 ? 'key' : d.by
      const at = by === 'key-after-completion' ? duration + 1 + d.at * 1000 : d.at * duration
      sim.at(at, () => {
        if (by === 'key-other-change') {
          // The same key with another change: refused, and nothing changes.
          const other = { kind: 'config', values: { x: d.reason }, idempotencyKey: 'push-1' }
          try {
            sim.engine.submit(other)
            answers.push('accepted')
          } catch (error) {
            answers.push((error as { code?: string }).code ?? String(error))
          }
          return
        }
        const dup =
          by === 'target'
            ? { ...change, idempotencyKey: `other-${d.reason}`, reason: d.reason }
            : { ...change, reason: d.reason }
        const r = sim.engine.submit(dup)
        answers.push(`${r.rollout.id}:${r.coalesced}`)
      })
    }
  }
  sim.clock.runAll({ limit: 1_000_000 })
  return { sim, first: sim.engine.get(first.id), answers }
}

describe('coalescing', () => {
  it('C: duplicates cost what one push costs', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const one = run(c, false)
        const duration = (one.first.endedAt ?? 0) - one.first.createdAt
        const many = run(c, true, duration)
        expect(many.sim.engine.list()).toHaveLength(1)
        const conflicts = c.duplicates.filter((d) => d.by === 'key-other-change').length
        expect(many.first.coalesced).toBe(c.duplicates.length - conflicts)
        expect(many.answers.filter((a) => a === 'E_IDEMPOTENCY_CONFLICT')).toHaveLength(conflicts)
        for (const a of many.answers.filter((x) => x !== 'E_IDEMPOTENCY_CONFLICT'))
          expect(a).toMatch(new RegExp(`^${one.first.id}:(idempotencyKey|target)$`))
        expect(many.first.deliveredCost).toBe(one.first.deliveredCost)
        expect(many.first.delivered).toBe(one.first.delivered)
        const perClient = (sim: FleetSim) => Array.from(sim.received.get(one.first.id) ?? [])
        expect(perClient(many.sim)).toEqual(perClient(one.sim))
        expect(many.sim.origin.total).toBe(one.sim.origin.total)
      }),
      params(),
    )
  })
})

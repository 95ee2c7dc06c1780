/** Generators of configs, changes and whole event sequences for the property tests. */
import fc from 'fast-check'
import type { EngineConfigInput } from '../../src/invalidation/options.js'

export const stepsArb = fc
  .uniqueArray(fc.double({ min: 0.01, max: 0.99, noNaN: true }), { maxLength: 4 })
  .map((xs) => [...xs.sort((a, b) => a - b), 1])

export const budgetArb = fc.record({
  ratePerSec: fc.oneof(
    fc.integer({ min: 2, max: 400 }),
    fc.double({ min: 2, max: 400, noNaN: true }),
  ),
  burst: fc.integer({ min: 1, max: 120 }),
})

export const configArb: fc.Arbitrary<EngineConfigInput> = fc.record({
  shards: fc.integer({ min: 1, max: 16 }),
  budgets: fc.record({
    invalidate: budgetArb,
    rewarm: budgetArb,
    config: budgetArb,
    urgent: budgetArb,
  }),
  waves: fc.record({ steps: stepsArb, bakeMs: fc.integer({ min: 0, max: 2000 }) }),
  leases: fc.record({
    ttlMs: fc.integer({ min: 1, max: 800 }),
    maxBatch: fc.integer({ min: 1, max: 25 }),
  }),
})

const names = (prefix: string) =>
  fc.uniqueArray(fc.constantFrom(...[1, 2, 3, 4, 5, 6].map((i) => `${prefix}${i}`)), {
    minLength: 1,
    maxLength: 4,
  })

export const targetArb = fc.oneof(
  fc.constant({ all: true }),
  fc.record({ keys: names('k') }),
  fc.record({ tags: names('t') }),
  fc.record({ prefixes: names('p') }),
)

const wavesOverride = fc.option(
  fc.record({ steps: stepsArb, bakeMs: fc.integer({ min: 0, max: 1500 }) }),
  { nil: undefined },
)
const idemKey = fc.option(fc.constantFrom('push-a', 'push-b', 'push-c'), {
  nil: undefined,
  freq: 3,
})

export const changeArb = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record(
      {
        kind: fc.constant('invalidate' as const),
        target: targetArb,
        mode: fc.constantFrom('soft' as const, 'hard' as const),
        priority: fc.constantFrom('normal' as const, 'normal' as const, 'urgent' as const),
        idempotencyKey: idemKey,
        waves: wavesOverride,
      },
      { requiredKeys: ['kind', 'target', 'mode', 'priority'] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        kind: fc.constant('rewarm' as const),
        target: fc.oneof(fc.constant({ hotSet: true }), fc.record({ keys: names('k') })),
        idempotencyKey: idemKey,
        waves: wavesOverride,
      },
      { requiredKeys: ['kind', 'target'] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        kind: fc.constant('config' as const),
        values: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 3 }), {
          minKeys: 1,
        }),
        waves: wavesOverride,
      },
      { requiredKeys: ['kind', 'values'] },
    ),
  },
)

/** When: integer or fractional virtual ms, so clock steps are arbitrary. */
const atArb = fc.oneof(
  fc.integer({ min: 0, max: 20_000 }),
  fc.double({ min: 0, max: 20_000, noNaN: true }),
)

export type SimEvent =
  | { type: 'submit'; at: number; change: Record<string, unknown> }
  | { type: 'storm'; at: number; count: number }
  | { type: 'join' | 'leave'; at: number; client: number }
  | { type: 'pause' | 'resume' | 'abort' | 'rollback'; at: number; which: number }
  | { type: 'restart'; at: number }
  | { type: 'coldRestart'; at: number }

export const eventArb: fc.Arbitrary<SimEvent> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ type: fc.constant('submit' as const), at: atArb, change: changeArb }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('storm' as const),
      at: atArb,
      count: fc.integer({ min: 2, max: 12 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constantFrom('join' as const, 'leave' as const),
      at: atArb,
      client: fc.nat(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constantFrom(
        'pause' as const,
        'resume' as const,
        'abort' as const,
        'rollback' as const,
      ),
      at: atArb,
      which: fc.nat(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('restart' as const), at: atArb }) },
)

export const fleetArb = fc.record({
  clients: fc.integer({ min: 1, max: 40 }),
  entries: fc.integer({ min: 0, max: 30 }),
  spread: fc.double({ min: 0, max: 0.9, noNaN: true }),
  initiallyLive: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
  seed: fc.integer(),
})

export const scenarioArb = fc.record({
  fleet: fleetArb,
  config: configArb,
  events: fc.array(eventArb, { minLength: 3, maxLength: 30, size: 'max' }),
})

export type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never

/**
 * Scenarios with cold restarts too: the coordinator loses all its state
 * (a memory store restarted), the clients keep theirs. Kept apart: budgets
 * and idempotency keys do not survive a cold restart, so B1 and C are
 * stated for the other restarts; I is stated for these too.
 */
export const coldScenarioArb = fc.record({
  fleet: fleetArb,
  config: configArb,
  events: fc.array(
    fc.oneof(
      { weight: 12, arbitrary: eventArb },
      { weight: 1, arbitrary: fc.record({ type: fc.constant('coldRestart' as const), at: atArb }) },
    ),
    { minLength: 3, maxLength: 30, size: 'max' },
  ),
})

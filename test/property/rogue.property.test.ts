/**
 * One rogue part must not hurt the fleet (issue 12): whatever figures clients
 * report — cache sizes and capacities up to 2^53 − 1 — and whatever happens
 * around them (changes of every kind, joins, leaves, leases, restarts from a
 * snapshot, also a snapshot a store kept from before deliveries were capped,
 * its buckets 1.8e16 ms in debt), no delivery costs more than its class's
 * burst, and once the class is otherwise idle, a one-key delivery to an
 * ordinary client goes out within its budgeted time: its cost ÷ rate.
 *
 * Before the fix (443d3ba) this fails at once: a client of 2^53 − 1 entries
 * put its class 2^53/rate seconds into debt, and the probe never went out.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Delivery, Engine } from '../../src/invalidation/engine.js'
import { type EngineConfigInput, parseEngineConfig } from '../../src/invalidation/options.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'
import { type BudgetClass, budgetClassOf } from '../../src/model/budget.js'
import { budgetArb, changeArb, stepsArb } from './arbitraries.js'
import { params } from './runs.js'

/** A figure a client reports: ordinary, or anything up to 2^53 − 1. */
const figureArb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom(1e9, 2 ** 31, 2 ** 53 - 1) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) },
)
const clientArb = fc.integer({ min: 0, max: 5 })
const stepArb = fc.oneof(
  fc.integer({ min: 0, max: 5_000 }),
  fc.double({ min: 0, max: 5_000, noNaN: true }),
)

type Event =
  | { type: 'join'; client: number; entries?: number }
  | { type: 'report'; client: number; entries: number; capacity?: number }
  | { type: 'leave'; client: number }
  | { type: 'submit'; change: Record<string, unknown> }
  | { type: 'lease'; client: number; want: number; cls: 'invalidate' | 'rewarm' | 'urgent' }
  | { type: 'step'; ms: number }
  | { type: 'restart'; poisoned: boolean }

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record(
      { type: fc.constant('join' as const), client: clientArb, entries: figureArb },
      { requiredKeys: ['type', 'client'] },
    ),
  },
  {
    weight: 3,
    arbitrary: fc.record(
      {
        type: fc.constant('report' as const),
        client: clientArb,
        entries: figureArb,
        capacity: figureArb.map((n) => Math.max(1, n)),
      },
      { requiredKeys: ['type', 'client', 'entries'] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('leave' as const), client: clientArb }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('submit' as const), change: changeArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('lease' as const),
      client: clientArb,
      want: fc.integer({ min: 1, max: 100_000 }),
      cls: fc.constantFrom('invalidate' as const, 'rewarm' as const, 'urgent' as const),
    }),
  },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('step' as const), ms: stepArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('restart' as const), poisoned: fc.boolean() }),
  },
)

const probeArb = fc.record({
  /** The class the probe goes through, and the ordinary client it goes to. */
  kind: fc.constantFrom('invalidate', 'urgent', 'rewarm', 'config'),
  entries: fc.integer({ min: 1, max: 30 }),
})

const configArb: fc.Arbitrary<EngineConfigInput> = fc.record({
  shards: fc.integer({ min: 1, max: 16 }),
  budgets: fc.record({
    invalidate: budgetArb,
    rewarm: budgetArb,
    config: budgetArb,
    urgent: budgetArb,
  }),
  waves: fc.record({ steps: stepsArb, bakeMs: fc.integer({ min: 0, max: 2000 }) }),
})

const probeChange = (kind: string) =>
  kind === 'config'
    ? { kind: 'config', values: { probe: 'on' } }
    : kind === 'rewarm'
      ? { kind: 'rewarm', target: { keys: ['probe-k'] } }
      : {
          kind: 'invalidate',
          target: { keys: ['probe-k'] },
          priority: kind === 'urgent' ? 'urgent' : 'normal',
        }

describe('a rogue client', () => {
  it('never puts a class into debt beyond one burst: a later ordinary delivery goes out within its budgeted time', () => {
    fc.assert(
      fc.property(
        configArb,
        fc.array(eventArb, { minLength: 1, maxLength: 40 }),
        probeArb,
        (config, events, probe) => {
          const clock = new VirtualClock(1_700_000_000_000)
          const deliveries: Delivery[] = []
          const make = (snapshot?: ReturnType<Engine['snapshot']>) =>
            new Engine({
              clock,
              config,
              deliver: (d) => deliveries.push(d),
              ...(snapshot && { snapshot }),
            })
          let engine = make()
          for (const e of events) {
            const id = `c${(e as { client?: number }).client}`
            switch (e.type) {
              case 'join':
                engine.join(id, e.entries === undefined ? {} : { entries: e.entries })
                break
              case 'report':
                engine.report(id, e.entries, e.capacity)
                break
              case 'leave':
                engine.leave(id)
                break
              case 'submit':
                try {
                  engine.submit(e.change)
                } catch (error) {
                  // The same idempotency key with another change is refused, nothing else.
                  if ((error as { code?: string }).code !== 'E_IDEMPOTENCY_CONFLICT') throw error
                }
                break
              case 'lease':
                engine.lease(id, e.want, e.cls)
                break
              case 'step':
                clock.advance(e.ms)
                break
              case 'restart': {
                const snap = engine.snapshot()
                engine.close()
                if (e.poisoned)
                  // As a store kept it from before the cap: each class 1.8e16 ms in debt.
                  for (const b of Object.values(snap.buckets)) {
                    b.delivery = clock.now() + 1.8e16
                    b.wakeAt = clock.now() + 1.8e16
                  }
                engine = make(snap)
              }
            }
          }
          const parsed = parseEngineConfig(config)
          // No delivery ever cost more than its class's burst.
          for (const d of deliveries) {
            const burst = parsed.budgets[budgetClassOf(d.change)].burst
            for (const c of d.costs) expect(c).toBeLessThanOrEqual(Math.max(1, Math.floor(burst)))
          }

          // The probe's class, otherwise idle: every client gone, every other rollout stopped.
          const change = probeChange(probe.kind)
          const cls = budgetClassOf({
            kind: change.kind as 'invalidate',
            priority: (change as { priority?: 'urgent' }).priority ?? 'normal',
          }) as BudgetClass
          for (const c of engine.clients()) if (c.live) engine.leave(c.id)
          for (const r of engine.list())
            if (r.state === 'rolling' || r.state === 'paused' || r.state === 'planned')
              engine.abort(r.id, 'clear the class for the probe')
          engine.join('probe', { entries: probe.entries })
          const before = deliveries.length
          const at = clock.now()
          const { rollout } = engine.submit({ ...change, waves: { steps: [1], bakeMs: 0 } })
          clock.runAll({ limit: 10_000, until: at + 60 * 60 * 1000 })
          const got = deliveries
            .slice(before)
            .find((d) => d.change.id === rollout.id && d.clientIds.includes('probe'))
          const { ratePerSec } = parsed.budgets[cls]
          // Its cost (1: one key, or a config change) earned at the class's rate, from a bucket
          // at worst empty.
          expect(got, `probe in ${cls} never delivered`).toBeDefined()
          expect(got!.at - at).toBeLessThanOrEqual(1000 / ratePerSec + 1e-3)
          engine.close()
        },
      ),
      params(),
    )
  })
})

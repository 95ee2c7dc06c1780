/**
 * Key sketches on the real engine, virtual clock. A fleet whose caches
 * change all the time reports a Bloom filter now and then (some at a high
 * false-positive rate, some never) and the keys it cached since, each at its
 * own interval; some go silent for a while. Changes to keys only, and some to
 * everything, are pushed throughout. Then:
 *
 * - no holder is skipped for good: every copy cached before a change to its
 *   key is dropped by that change, or by a reset after it (a silent client);
 * - the staleness sketching adds is one update interval: with the waves and
 *   the budget out of the way, a copy outlives its change by at most the
 *   client's interval;
 * - B1 holds for the deliveries, skips or not;
 * - a client whose fresh sketch misses every key gets no frame (skips happen):
 *   up to 80 clients that hold nothing and keep their sketch fresh come first
 *   in the index, so the others' filters sit past them (the index works 32
 *   clients to a block).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Engine } from '../../src/invalidation/engine.js'
import { buildSketch } from '../../src/invalidation/sketch.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'
import type { Change } from '../../src/model/change.js'
import { overB1 } from './check.js'
import { params } from './runs.js'

const KEYS = Array.from({ length: 8 }, (_, i) => `k${i}`)

interface Model {
  /** Key → when this copy was cached. */
  cache: Map<string, number>
  added: Set<string>
  ticks: number
  /** When its last reset came (a lost client's cache marked stale). */
  resetAt: number
}

const clientArb = fc.record({
  intervalMs: fc.integer({ min: 200, max: 5000 }),
  /** Send a full filter every this many updates (0: never: it gets everything). */
  filterEvery: fc.constantFrom(0, 1, 2, 5),
  fpr: fc.constantFrom(0.001, 0.05, 0.4),
  /** Reports the keys it added (else a filter with every update, probed against the skips). */
  tracksAdded: fc.boolean(),
  /** A silent spell: from, for how long (ms). */
  silent: fc.option(
    fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 15_000 })),
    {
      nil: undefined,
    },
  ),
})

const eventArb = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      type: fc.constant('cache' as const),
      at: fc.integer({ min: 0, max: 30_000 }),
      client: fc.nat(),
      key: fc.constantFrom(...KEYS),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('evict' as const),
      at: fc.integer({ min: 0, max: 30_000 }),
      client: fc.nat(),
      key: fc.constantFrom(...KEYS),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      type: fc.constant('push' as const),
      at: fc.integer({ min: 0, max: 30_000 }),
      keys: fc.uniqueArray(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('all' as const),
      at: fc.integer({ min: 0, max: 30_000 }),
    }),
  },
)

const scenarioArb = fc.record({
  clients: fc.array(clientArb, { minLength: 1, maxLength: 40 }),
  events: fc.array(eventArb, { minLength: 1, maxLength: 80 }),
  /** Open: one wave, no bake, a budget far above the load (the staleness bound is checked). */
  open: fc.boolean(),
  budget: fc.record({
    ratePerSec: fc.integer({ min: 5, max: 400 }),
    burst: fc.integer({ min: 1, max: 40 }),
  }),
  steps: fc.constantFrom([1], [0.25, 1], [0.1, 0.5, 1]),
  staleMs: fc.integer({ min: 1000, max: 8000 }),
  windowFactor: fc.integer({ min: 1, max: 4 }),
  /** Clients holding nothing, with fresh sketches from the start: the others' sketches sit past them in the index. */
  padding: fc.integer({ min: 0, max: 80 }),
})

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never

const play = (s: Scenario) => {
  const clock = new VirtualClock(0)
  const ids = s.clients.map((_, i) => `c${i}`)
  const models = new Map<string, Model>(
    ids.map((id) => [id, { cache: new Map(), added: new Set(), ticks: 0, resetAt: -1 }]),
  )
  const budget = s.open ? { ratePerSec: 1e6, burst: 1e6 } : s.budget
  const deliveries: [number, number][] = []
  /** Change seq → its keys (undefined: everything) and when it was pushed. */
  const pushed = new Map<number, { keys: readonly string[] | undefined; at: number }>()
  /** Violations of the staleness bound: a copy outliving its change by more than the interval. */
  const late: string[] = []
  let skips = 0
  let frames = 0
  let padFrames = 0
  const drop = (id: string, m: Model, key: string, change: Change) => {
    const cachedAt = m.cache.get(key)
    const p = { at: change.submittedAt }
    if (cachedAt === undefined || cachedAt >= p.at) return
    m.cache.delete(key)
    const c = s.clients[ids.indexOf(id)]!
    // Silent, it sends nothing to replay on: the bound is for a client that keeps updating.
    const quiet = c.silent && c.silent[0] < clock.now() && c.silent[0] + c.silent[1] > p.at
    if (s.open && !quiet && clock.now() - p.at > c.intervalMs + 1e-6) {
      late.push(`${id} dropped ${key} of change ${change.seq} ${clock.now() - p.at} ms after it`)
    }
  }
  const engine = new Engine({
    clock,
    config: {
      shards: 16,
      budgets: { invalidate: budget, urgent: budget },
      waves: { steps: s.open ? [1] : [...s.steps], bakeMs: s.open ? 0 : 300 },
      defaultEntries: 1,
      sketches: { staleMs: s.staleMs, windowMs: s.staleMs * s.windowFactor },
    },
    deliver: (d) => {
      deliveries.push([d.at, d.cost])
      frames += d.clientIds.length
      const keys = d.change.target?.keys
      for (const id of d.clientIds) {
        const m = models.get(id)
        // Padding holds nothing: only a change to everything is due there.
        if (!m) {
          if (!d.change.target?.all) padFrames++
          continue
        }
        if (d.change.target?.all) for (const k of [...m.cache.keys()]) drop(id, m, k, d.change)
        else for (const k of keys ?? []) drop(id, m, k, d.change)
      }
    },
  })
  for (let i = 0; i < s.padding; i++) {
    const id = `pad${i}`
    engine.join(id, { entries: 1 })
    const tick = () => {
      engine.sketch(id, clock.now() === 0 ? { filter: buildSketch([], 0.01) } : { added: [] })
      if (clock.now() < 40_000) clock.setTimer(500, tick)
    }
    tick()
  }
  for (const id of ids) engine.join(id, { entries: 1 })
  // Each client's updates, at its own interval (none while silent).
  s.clients.forEach((c, i) => {
    const id = ids[i]!
    const m = models.get(id)!
    const tick = () => {
      const now = clock.now()
      const quiet = c.silent && now >= c.silent[0] && now < c.silent[0] + c.silent[1]
      if (!quiet && c.filterEvery > 0) {
        const full = !c.tracksAdded || m.ticks % c.filterEvery === 0
        const answer = engine.sketch(id, {
          ...(full && { filter: buildSketch(m.cache.keys(), c.fpr) }),
          ...(c.tracksAdded && { added: [...m.added] }),
        })
        m.added.clear()
        m.ticks++
        if (answer.lost) {
          // A reset: every copy it holds is marked stale (refetched before it is served again).
          m.cache.clear()
          m.resetAt = now
        }
      }
      if (now < 40_000) clock.setTimer(c.intervalMs, tick)
    }
    clock.setTimer((i * 37) % c.intervalMs, tick)
  })
  for (const e of s.events) {
    clock.setTimer(e.at, () => {
      if (e.type === 'push' || e.type === 'all') {
        const target = e.type === 'push' ? { keys: e.keys } : { all: true }
        const r = engine.submit({ kind: 'invalidate', target }).rollout
        // A push the same as one still rolling joins it (guarantee C): the change is the first's.
        if (!pushed.has(r.change.seq))
          pushed.set(r.change.seq, {
            keys: e.type === 'push' ? e.keys : undefined,
            at: clock.now(),
          })
        return
      }
      const id = ids[e.client % ids.length]!
      const m = models.get(id)!
      if (e.type === 'cache') {
        if (!m.cache.has(e.key)) m.cache.set(e.key, clock.now())
        m.added.add(e.key)
      } else m.cache.delete(e.key)
    })
  }
  clock.runAll({ limit: 1_000_000 })
  for (const v of engine.list()) skips += v.waves.reduce((n, w) => n + (w.skipped ?? 0), 0)
  return { models, pushed, deliveries, late, skips, frames, padFrames, budget }
}

describe('key sketches', () => {
  it('never skip a holder for good, add at most one update interval, keep B1', () => {
    let skipped = 0
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const r = play(s)
        // Every copy still held was cached after every change to its key (or after a reset).
        for (const [id, m] of r.models) {
          for (const [key, cachedAt] of m.cache) {
            for (const [seq, p] of r.pushed) {
              const touches = p.keys === undefined || p.keys.includes(key)
              expect(
                touches && cachedAt < p.at,
                `${id} still holds ${key} (cached at ${cachedAt}) after change ${seq} at ${p.at}`,
              ).toBe(false)
            }
          }
        }
        expect(r.late).toEqual([])
        // A fresh sketch of nothing rules out every key: no frame of a keys-only change goes there.
        expect(r.padFrames).toBe(0)
        expect(overB1(r.deliveries, r.budget.ratePerSec, r.budget.burst)).toBeUndefined()
        skipped += r.skips
      }),
      params(),
    )
    // The sketches did skip clients (the property is not vacuous).
    expect(skipped).toBeGreaterThan(0)
  })
})

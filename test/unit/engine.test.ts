import { describe, expect, it } from 'vitest'
import {
  IllegalTransitionError,
  InvalidOptionError,
  NotConfigChangeError,
  UnknownRolloutError,
} from '../../src/errors.js'
import { Engine } from '../../src/invalidation/engine.js'
import { harness } from '../helpers/engine.js'

const all = { kind: 'invalidate', target: { all: true } } as const

describe('engine: waves and pacing', () => {
  it('rolls a change out in waves with bakes between them, to every client once', () => {
    const h = harness(
      {
        budgets: { invalidate: { ratePerSec: 100, burst: 100 } },
        waves: { steps: [0.1, 0.5, 1], bakeMs: 1000 },
      },
      { clients: 200, entries: 10 },
    )
    const { rollout } = h.engine.submit(all)
    expect(rollout.state).toBe('rolling')
    expect(rollout.waves.map((w) => [w.lo, w.hi])).toEqual([
      [0, 10],
      [10, 50],
      [50, 100],
    ])
    h.clock.runAll()
    const done = h.engine.get(rollout.id)
    expect(done.state).toBe('completed')
    const got = h.received(rollout.id)
    expect(got.size).toBe(200)
    expect([...got.values()].every((n) => n === 1)).toBe(true)
    // Waves never overlap: each starts a bake after the previous one's last delivery.
    for (let i = 1; i < done.waves.length; i++) {
      expect(done.waves[i]!.startedAt).toBe(done.waves[i - 1]!.deliveredAt! + 1000)
    }
    // 2000 units at 100/s with a 100 burst: 19 s of pacing, plus 2 bakes of 1 s
    // that each earn back 1 s of burst: 19 s.
    expect(done.endedAt).toBeCloseTo(19_000, 6)
  })

  it('goes out in paced batches when a wave is bigger than the budget', () => {
    const h = harness(
      { budgets: { invalidate: { ratePerSec: 50, burst: 20 } }, waves: { steps: [1], bakeMs: 0 } },
      { clients: 30, entries: 5 },
    )
    h.engine.submit(all)
    h.clock.runAll()
    expect(h.deliveries[0]!.clientIds.length).toBe(4) // 20 units of burst
    const perBatch = h.deliveries.slice(1).map((d) => d.cost)
    expect(perBatch.every((c) => c === 5)).toBe(true)
    const gaps = h.deliveries.slice(1).map((d, i) => d.at - h.deliveries[i]!.at)
    expect(gaps.every((g) => Math.abs(g - 100) < 1e-6)).toBe(true)
  })

  it('prices explicit keys at min(keys, entries) and other targets at the entry count, up to the burst', () => {
    const h = harness({ waves: { steps: [1], bakeMs: 0 } })
    h.engine.join('big', { entries: 500 })
    h.engine.join('small', { entries: 2 })
    h.engine.join('unknown')
    const keys = h.engine.submit({ kind: 'invalidate', target: { keys: ['a', 'b', 'c'] } }).rollout
    const tags = h.engine.submit({ kind: 'invalidate', target: { tags: ['t'] } }).rollout
    h.clock.runAll()
    const costs = (id: string) => {
      const m = new Map<string, number>()
      for (const d of h.deliveries.filter((x) => x.change.id === id)) {
        for (const [i, c] of d.clientIds.entries()) m.set(c, d.costs[i]!)
      }
      return Object.fromEntries(m)
    }
    expect(costs(keys.id)).toEqual({ big: 3, small: 2, unknown: 3 })
    // Never more than the class's burst (500): the unknown client's defaultEntries (1000) cost 500.
    expect(costs(tags.id)).toEqual({ big: 500, small: 2, unknown: 500 })
    // A rewarm: every key, but never more than the client's cache holds (when it said).
    h.engine.report('small', 2, 4)
    expect(() => h.engine.report('small', 2, 0)).toThrow(/`capacity`/)
    const keys10 = Array.from({ length: 10 }, (_, i) => `k${i}`)
    const rewarm = h.engine.submit({ kind: 'rewarm', target: { keys: keys10 } }).rollout
    h.clock.runAll()
    expect(costs(rewarm.id)).toEqual({ big: 10, small: 4, unknown: 10 })
  })

  it('delivers a wave costliest first, so the longest refetch starts earliest', () => {
    const h = harness({
      budgets: { invalidate: { ratePerSec: 100, burst: 100 } },
      waves: { steps: [0.5, 1], bakeMs: 1000 },
    })
    // Sizes in no order: registry order alone would reach large caches anywhere in the wave.
    const sizes = [7, 90, 3, 40, 40, 1, 65, 12, 90, 5, 28, 77, 2, 50, 33, 9]
    for (const [i, entries] of sizes.entries()) h.engine.join(`c${i}`, { entries })
    const { rollout } = h.engine.submit(all)
    h.clock.runAll()
    const mine = h.deliveries.filter((d) => d.change.id === rollout.id)
    for (const wave of [0, 1]) {
      const costs = mine.filter((d) => d.wave === wave).flatMap((d) => d.costs)
      expect(costs.length).toBeGreaterThan(1)
      expect(costs).toEqual([...costs].sort((a, b) => b - a))
    }
    // Everyone once, B1 as before: the order changes who goes first, not how much.
    expect(h.received(rollout.id).size).toBe(sizes.length)
  })

  it('salts shards with the change id, so first waves differ between changes', () => {
    const h = harness({ waves: { steps: [0.1, 1], bakeMs: 0 } }, { clients: 500 })
    const a = h.engine.submit({ kind: 'invalidate', target: { keys: ['a'] } }).rollout
    const b = h.engine.submit({ kind: 'invalidate', target: { keys: ['b'] } }).rollout
    const firstWave = (id: string) =>
      new Set(
        h.deliveries.filter((d) => d.change.id === id && d.wave === 0).flatMap((d) => d.clientIds),
      )
    h.clock.runAll()
    const wa = firstWave(a.id)
    const wb = firstWave(b.id)
    expect(wa.size).toBeGreaterThan(20)
    const overlap = [...wa].filter((c) => wb.has(c)).length
    expect(overlap).toBeLessThan(wa.size / 2)
  })
})

describe('engine: control', () => {
  it('pauses (nothing more goes out), resumes, and aborts', () => {
    const h = harness(
      { budgets: { invalidate: { ratePerSec: 10, burst: 10 } }, waves: { steps: [1], bakeMs: 0 } },
      { clients: 50, entries: 1 },
    )
    const { rollout } = h.engine.submit(all)
    h.clock.advance(1000)
    h.engine.pause(rollout.id, 'looking into it')
    const before = h.deliveries.length
    h.clock.advance(10_000)
    expect(h.deliveries.length).toBe(before)
    expect(h.engine.get(rollout.id)).toMatchObject({ state: 'paused', reason: 'looking into it' })
    h.engine.resume(rollout.id)
    h.clock.advance(1000)
    expect(h.deliveries.length).toBeGreaterThan(before)
    h.engine.abort(rollout.id)
    const atAbort = h.deliveries.length
    h.clock.runAll()
    expect(h.deliveries.length).toBe(atAbort)
    expect(h.engine.get(rollout.id).state).toBe('aborted')
  })

  it('refuses illegal transitions with a coded error and changes nothing', () => {
    const h = harness({}, { clients: 3 })
    const { rollout } = h.engine.submit(all)
    expect(() => h.engine.resume(rollout.id)).toThrow(IllegalTransitionError)
    h.engine.abort(rollout.id)
    const view = h.engine.get(rollout.id)
    for (const act of [
      () => h.engine.pause(rollout.id),
      () => h.engine.resume(rollout.id),
      () => h.engine.abort(rollout.id),
    ]) {
      try {
        act()
        expect.unreachable()
      } catch (e) {
        expect(e).toBeInstanceOf(IllegalTransitionError)
        expect((e as IllegalTransitionError).code).toBe('E_ILLEGAL_TRANSITION')
      }
    }
    expect(h.engine.get(rollout.id)).toEqual(view)
    expect(() => h.engine.pause('nope')).toThrow(UnknownRolloutError)
    expect(() => h.engine.rollback(rollout.id)).toThrow(NotConfigChangeError)
  })

  it('rolls back a config change in waves, only to the clients that got it', () => {
    const h = harness(
      { budgets: { config: { ratePerSec: 5, burst: 5 } }, waves: { steps: [0.5, 1], bakeMs: 500 } },
      { clients: 40 },
    )
    h.engine.submit({ kind: 'config', values: { 'feature.x': 1 } })
    h.clock.runAll()
    const { rollout } = h.engine.submit({
      kind: 'config',
      values: { 'feature.x': 2, 'feature.y': true },
    })
    h.clock.advance(2000)
    const got = h.received(rollout.id)
    expect(got.size).toBeGreaterThan(0)
    expect(got.size).toBeLessThan(40)
    const back = h.engine.rollback(rollout.id)
    // Rolling back while its rollback runs; rolled back once that completes.
    expect(h.engine.get(rollout.id).state).toBe('rolling_back')
    expect(back.change).toMatchObject({
      kind: 'config',
      values: { 'feature.x': 1 },
      unset: ['feature.y'],
      rollbackOf: rollout.id,
    })
    h.clock.runAll()
    expect(h.engine.get(back.id).state).toBe('completed')
    expect(h.engine.get(rollout.id).state).toBe('rolled_back')
    expect(new Set(h.received(back.id).keys())).toEqual(new Set(got.keys()))
    // Paced like any change: 5 per second, never all at once.
    const times = h.deliveries.filter((d) => d.change.id === back.id).map((d) => d.at)
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(500)
    expect(h.engine.configValues).toEqual({ 'feature.x': 1 })
  })

  it('pauses at a failing gate, and rolls back a config change at one', () => {
    let verdict: 'pass' | 'fail' = 'fail'
    const h = harness(
      { waves: { steps: [0.2, 1], bakeMs: 100 } },
      { clients: 50, gate: () => verdict },
    )
    const inv = h.engine.submit(all).rollout
    const cfg = h.engine.submit({ kind: 'config', values: { a: 1 } }).rollout
    h.clock.runAll()
    expect(h.engine.get(inv.id)).toMatchObject({
      state: 'paused',
      reason: 'gate failed after wave 0',
    })
    // The rollback itself fails the same gate: it pauses rather than undoing the undo, and
    // the change stays rolling back (not rolled back) until its rollback completes.
    expect(h.engine.get(cfg.id).state).toBe('rolling_back')
    const back = h.engine.list().find((r) => r.change.rollbackOf === cfg.id)!
    expect(back).toMatchObject({ state: 'paused', reason: 'gate failed after wave 0' })
    expect(h.engine.list()).toHaveLength(3)
    verdict = 'pass'
    h.engine.resume(inv.id)
    h.clock.runAll()
    expect(h.engine.get(inv.id).state).toBe('completed')
  })
})

describe('engine: coalescing', () => {
  it('folds a retry with the same idempotency key into the first push', () => {
    const h = harness({}, { clients: 10 })
    const a = h.engine.submit({ ...all, idempotencyKey: 'push-1' })
    const b = h.engine.submit({ ...all, idempotencyKey: 'push-1', reason: 'retry' })
    expect(b).toMatchObject({
      coalesced: 'idempotencyKey',
      rollout: { id: a.rollout.id, coalesced: 1 },
    })
    h.clock.runAll()
    const c = h.engine.submit({ ...all, idempotencyKey: 'push-1' })
    expect(c.rollout.id).toBe(a.rollout.id)
  })

  it('joins an identical target while the first is still rolling, not after', () => {
    const h = harness({}, { clients: 10 })
    const a = h.engine.submit({ kind: 'invalidate', target: { keys: ['b', 'a', 'a'] } })
    const b = h.engine.submit({ kind: 'invalidate', target: { keys: ['a', 'b'] } })
    expect(b.coalesced).toBe('target')
    expect(b.rollout.id).toBe(a.rollout.id)
    const hard = h.engine.submit({ kind: 'invalidate', target: { keys: ['a', 'b'] }, mode: 'hard' })
    expect(hard.coalesced).toBe(false)
    h.clock.runAll()
    const later = h.engine.submit({ kind: 'invalidate', target: { keys: ['a', 'b'] } })
    expect(later.coalesced).toBe(false)
  })
})

describe('engine: fleet changes', () => {
  it('delivers to a client that joins after its wave passed, and skips one that left', () => {
    const h = harness(
      { waves: { steps: [1], bakeMs: 0 }, budgets: { invalidate: { ratePerSec: 1, burst: 1 } } },
      { clients: 5, entries: 1 },
    )
    const { rollout } = h.engine.submit(all)
    h.engine.leave('c4')
    h.engine.join('late', { entries: 1 })
    h.clock.runAll()
    const got = h.received(rollout.id)
    expect(got.has('late')).toBe(true)
    expect(got.has('c4')).toBe(false)
    // c4 comes back after completion: it existed before the change, so it catches up.
    h.engine.join('c4')
    h.engine.join('brand-new')
    h.clock.runAll()
    const after = h.received(rollout.id)
    expect(after.get('c4')).toBe(1)
    expect(after.has('brand-new')).toBe(false)
    expect(h.engine.get(rollout.id).state).toBe('completed')
  })
  it('catches up a predating client heard of by heartbeat before its stream joined', () => {
    // After a store loss: the new engine completes a change; a client whose replica registers
    // it late has already heartbeated (the engine knows it, not live, as first seen now).
    const h = harness({ waves: { steps: [1], bakeMs: 0 } }, { clients: 3, entries: 1 })
    const { rollout } = h.engine.submit(all)
    h.clock.runAll()
    expect(h.engine.get(rollout.id).state).toBe('completed')
    h.engine.report('late', 1)
    h.engine.join('late', { predates: true })
    // And one heard of the same way that did not predate the engine: none of its business.
    h.engine.report('new', 1)
    h.engine.join('new')
    h.clock.runAll()
    expect(h.received(rollout.id).get('late')).toBe(1)
    expect(h.received(rollout.id).has('new')).toBe(false)
  })
})

describe('engine: snapshot and restore', () => {
  it('resumes mid-rollout without repeating or skipping a delivery, and keeps the budget', () => {
    const config = {
      budgets: { invalidate: { ratePerSec: 20, burst: 10 } },
      waves: { steps: [0.1, 0.5, 1], bakeMs: 300 },
    }
    const ref = harness(config, { clients: 60, entries: 2 })
    const refRollout = ref.engine.submit(all).rollout
    ref.clock.runAll()
    const h = harness(config, { clients: 60, entries: 2 })
    const { rollout } = h.engine.submit(all)
    for (const t of [100, 450, 1000, 2500, 4000]) {
      h.clock.advanceTo(t)
      h.restart()
    }
    h.clock.runAll()
    const got = h.received(rollout.id)
    expect(got.size).toBe(60)
    expect([...got.values()].every((n) => n === 1)).toBe(true)
    // Same timeline as the run without restarts.
    expect(h.deliveries.map((d) => [d.at, d.clientIds])).toEqual(
      ref.deliveries.map((d) => [d.at, d.clientIds]),
    )
    expect(h.engine.get(rollout.id).endedAt).toBe(ref.engine.get(refRollout.id).endedAt)
  })

  it('holds an idempotency key to its first request across a restart, and reads older snapshots', () => {
    const h = harness({}, { clients: 3, entries: 2 })
    const first = { kind: 'invalidate', target: { keys: ['a'] }, idempotencyKey: 'push-1' }
    const { rollout } = h.engine.submit(first)
    h.restart()
    expect(() =>
      h.engine.submit({ kind: 'config', values: { x: 1 }, idempotencyKey: 'push-1' }),
    ).toThrow(expect.objectContaining({ code: 'E_IDEMPOTENCY_CONFLICT', rolloutId: rollout.id }))
    // A retry that words its reason anew is the same request.
    expect(h.engine.submit({ ...first, reason: 'retry' })).toMatchObject({
      rollout: { id: rollout.id },
      coalesced: 'idempotencyKey',
    })
    // A snapshot from before digests ([key, id]): the key still finds its rollout, as before.
    const snap = h.engine.snapshot()
    expect(snap.idempotency).toEqual([['push-1', rollout.id, expect.any(String)]])
    const old = { ...snap, idempotency: snap.idempotency.map(([k, id]) => [k, id]) }
    const engine = new Engine({ clock: h.clock, snapshot: old as typeof snap })
    expect(
      engine.submit({ kind: 'config', values: { x: 1 }, idempotencyKey: 'push-1' }),
    ).toMatchObject({
      rollout: { id: rollout.id },
      coalesced: 'idempotencyKey',
    })
    engine.close()
  })

  it('refuses a snapshot of another fleet or a broken one', () => {
    const h = harness({ fleet: 'a' })
    const snap = h.engine.snapshot()
    expect(() => harness({ fleet: 'b' }).engine.constructor).not.toThrow()
    const other = harness({ fleet: 'b' })
    other.engine.close()
    expect(
      () =>
        new (h.engine.constructor as typeof import('../../src/invalidation/engine.js').Engine)({
          clock: h.clock,
          config: { fleet: 'b' },
          snapshot: snap,
        }),
    ).toThrow(/E_SNAPSHOT|fleet `a`/)
    expect(
      () =>
        new (h.engine.constructor as typeof import('../../src/invalidation/engine.js').Engine)({
          clock: h.clock,
          config: { fleet: 'a' },
          snapshot: { ...snap, seq: -1 },
        }),
    ).toThrow(/seq/)
  })
})

describe('engine: leases and bad input', () => {
  it('grants refetch tokens in batches from the class budget', () => {
    const h = harness({
      budgets: { invalidate: { ratePerSec: 100, burst: 30 } },
      leases: { ttlMs: 200, maxBatch: 20 },
    })
    expect(h.engine.lease('c', 50)).toEqual({ granted: 20, ttlMs: 200, retryAfterMs: 0 })
    const second = h.engine.lease('c', 50)
    expect(second.granted).toBe(10)
    // The other 10 of the batch of 20 come in 100 ms.
    expect(second.retryAfterMs).toBeCloseTo(100, 6)
    expect(h.engine.lease('c', 5).granted).toBe(0)
    h.clock.advance(50)
    expect(h.engine.lease('c', 50).granted).toBe(5)
  })

  it('rejects bad changes and options with errors naming the field, changing nothing', () => {
    const h = harness({}, { clients: 3 })
    const cases: [unknown, RegExp][] = [
      [{ kind: 'invalidate' }, /`target`/],
      [{ kind: 'invalidate', target: {} }, /`target`/],
      [{ kind: 'invalidate', target: { all: true }, bogus: 1 }, /`bogus`/],
      [{ kind: 'invalidate', target: { all: true }, mode: 'medium' }, /`mode`/],
      [
        { kind: 'invalidate', target: { all: true }, waves: { steps: [0.5, 0.2, 1] } },
        /`waves.steps` to be strictly increasing/,
      ],
      [{ kind: 'invalidate', target: { all: true }, waves: { steps: [0.5] } }, /ends at 1/],
      [{ kind: 'invalidate', target: { all: true }, waves: { bakeMs: -1 } }, /`waves.bakeMs`/],
      [{ kind: 'config' }, /`values`/],
      [{ kind: 'nuke', target: { all: true } }, /`kind`/],
    ]
    for (const [input, message] of cases) expect(() => h.engine.submit(input)).toThrow(message)
    expect(h.engine.list()).toEqual([])
    expect(h.engine.seq).toBe(0)
    expect(() => h.engine.lease('c', 0)).toThrow(InvalidOptionError)
    expect(() => h.engine.join('', {})).toThrow(/clientId/)
    expect(() => h.engine.report('c', -1)).toThrow(/entries/)
    expect(() => harness({ budgets: { invalidate: { ratePerSec: -5, burst: 1 } } })).toThrow(
      /`budgets.invalidate.ratePerSec`/,
    )
    expect(() => harness({ waves: { steps: [0.5, 0.9], bakeMs: 0 } })).toThrow(
      /`waves.steps` to be an array that ends at 1/,
    )
  })
})

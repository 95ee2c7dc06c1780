/**
 * Key sketches: the Bloom filter (no false negatives, its stated rate, its
 * wire form) and what the engine does with one: skip, deliver on a possible
 * hold, keep keys added since, replay, go stale, declare a silent client lost.
 */
import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../../src/errors.js'
import { Engine } from '../../src/invalidation/engine.js'
import type { Delivery } from '../../src/invalidation/pacer.js'
import {
  addKey,
  buildSketch,
  decodeSketch,
  emptySketch,
  encodeSketch,
  fillSketch,
  ladderSize,
  mayHold,
  sketchFpr,
  sketchSize,
} from '../../src/invalidation/sketch.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'

describe('key sketch', () => {
  it('holds every key added, and misses others at about its stated rate', () => {
    for (const fpr of [0.001, 0.01, 0.1]) {
      const keys = Array.from({ length: 20_000 }, (_, i) => `product:${i}`)
      const s = buildSketch(keys, fpr)
      for (const k of keys) expect(mayHold(s, k)).toBe(true)
      let fp = 0
      const probes = 50_000
      for (let i = 0; i < probes; i++) if (mayHold(s, `other:${i}`)) fp++
      const stated = sketchFpr(s.m, s.k, keys.length)
      expect(stated).toBeLessThanOrEqual(fpr * 1.05)
      // Binomial: within 5 standard deviations of the stated rate.
      const sd = Math.sqrt((stated * (1 - stated)) / probes)
      expect(Math.abs(fp / probes - stated), `fpr ${fpr}`).toBeLessThan(5 * sd + 1e-4)
    }
  })

  it('is about 9.6 bits a key at 1 %, and goes over the wire unchanged', () => {
    const { m, k } = sketchSize(100_000, 0.01)
    expect(m / 100_000).toBeCloseTo(9.585, 1)
    expect(k).toBe(7)
    const s = buildSketch(['a', 'b', 'é', '🙂'], 0.01)
    const back = decodeSketch(encodeSketch(s))
    expect(back).toEqual(s)
    for (const key of ['a', 'b', 'é', '🙂']) expect(mayHold(back, key)).toBe(true)
  })

  it("sizes the SDK's filters on a ladder of powers of two, at or under the stated rate", () => {
    for (const n of [1, 10, 700, 1000, 1500, 100_000]) {
      for (const fpr of [0.05, 0.01, 0.001]) {
        const ideal = sketchSize(n, fpr)
        const { m, k } = ladderSize(n, fpr)
        expect(Number.isInteger(Math.log2(m))).toBe(true)
        expect(m).toBeGreaterThanOrEqual(ideal.m)
        expect(m).toBeLessThan(Math.max(128, 2 * ideal.m))
        expect(k).toBe(Math.round(-Math.log2(fpr)))
        expect(sketchFpr(m, k, n)).toBeLessThanOrEqual(fpr * 1.05)
      }
    }
    // Caches within 2× of each other share a shape (the coordinator indexes them together).
    expect(ladderSize(1100, 0.01)).toEqual(ladderSize(1600, 0.01))
    // Capped: the largest power of two within the cap, k for the bits there are.
    const capped = ladderSize(100_000, 0.01, 300_000)
    expect(capped.m).toBe(262_144)
    expect(capped).toEqual(sketchSize(100_000, 0.01, 262_144))
    // What it builds holds every key.
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`)
    const s = fillSketch(keys, ladderSize(keys.length, 0.01))
    for (const key of keys) expect(mayHold(s, key)).toBe(true)
  })

  it('refuses a shape that does not hold together', () => {
    expect(() => decodeSketch({ m: 64, k: 3, bits: 'AAAA' })).toThrow(InvalidOptionError)
    expect(() => decodeSketch({ m: 63, k: 3, bits: '' })).toThrow(InvalidOptionError)
    expect(() => decodeSketch({ m: 64, k: 0, bits: 'AAAAAAAAAAA' })).toThrow(InvalidOptionError)
    expect(() => sketchSize(10, 0)).toThrow(InvalidOptionError)
    const s = emptySketch(64, 2)
    expect(mayHold(s, 'x')).toBe(false)
    addKey(s, 'x')
    expect(mayHold(s, 'x')).toBe(true)
  })
})

describe('the engine with key sketches', () => {
  const setup = () => {
    const clock = new VirtualClock(0)
    const got: Delivery[] = []
    const engine = new Engine({
      clock,
      config: {
        shards: 1,
        waves: { steps: [1], bakeMs: 0 },
        sketches: { staleMs: 10_000, windowMs: 30_000 },
      },
      deliver: (d) => got.push(d),
    })
    const to = (key: string) =>
      got.filter((d) => d.change.target?.keys?.includes(key)).flatMap((d) => d.clientIds)
    for (const id of ['a', 'b', 'c']) engine.join(id, { entries: 1 })
    return { clock, engine, got, to }
  }
  const push = (e: Engine, target: Record<string, unknown>) =>
    e.submit({ kind: 'invalidate', target }).rollout

  it('sends a change to keys only to clients that may hold one; others get everything', () => {
    const { engine, to } = setup()
    engine.sketch('a', { filter: buildSketch(['k1'], 1e-4) })
    engine.sketch('b', { filter: buildSketch(['k2'], 1e-4) })
    // c has no sketch: it gets every change.
    const r = push(engine, { keys: ['k1'] })
    expect(to('k1').sort()).toEqual(['a', 'c'])
    expect(engine.get(r.id).waves[0]!.skipped).toBe(1)
    // Keys and tags: not a keys-only change, everyone.
    engine.submit({ kind: 'invalidate', target: { keys: ['k9'], tags: ['t'] } })
    expect(engine.list().at(-1)!.delivered).toBe(3)
    expect(engine.sketchCounts).toMatchObject({ skipped: 1, clients: 2 })
  })

  it('keeps keys added since the filter, and replays a skipped change on a key added later', () => {
    const { clock, engine, to } = setup()
    engine.sketch('a', { filter: buildSketch([], 1e-4) })
    engine.sketch('b', { filter: buildSketch([], 1e-4) })
    engine.sketch('c', { filter: buildSketch([], 1e-4) })
    // a reports k1 added since its filter: held, so not skipped.
    clock.advance(1000)
    engine.sketch('a', { added: ['k1'] })
    push(engine, { keys: ['k1'] })
    expect(to('k1')).toEqual(['a'])
    // b caches k2 after its filter and before it says so: skipped, then replayed when it does.
    push(engine, { keys: ['k2'] })
    expect(to('k2')).toEqual([])
    clock.advance(1000)
    expect(engine.sketch('b', { added: ['k2'] })).toEqual({ replayed: 1, lost: false })
    expect(to('k2')).toEqual(['b'])
    // Replayed once: the same key reported again sends nothing more.
    expect(engine.sketch('b', { added: ['k2'] }).replayed).toBe(0)
    expect(engine.sketchCounts.replayed).toBe(1)
  })

  it('checks a filter sent alone against every skip of the window', () => {
    const { clock, engine, to } = setup()
    engine.sketch('a', { filter: buildSketch([], 1e-4) })
    push(engine, { keys: ['k1'] })
    push(engine, { keys: ['k2'] })
    expect(to('k1')).not.toContain('a')
    // Another process under the same id, which cached k1 before it could track what it cached.
    clock.advance(1000)
    expect(engine.sketch('a', { filter: buildSketch(['k1'], 1e-4) })).toEqual({
      replayed: 1,
      lost: false,
    })
    expect(to('k1')).toContain('a')
    expect(to('k2')).not.toContain('a')
  })

  it('does not use a stale sketch, and tells a client silent past the window it is lost', () => {
    const { clock, engine, to } = setup()
    engine.sketch('a', { filter: buildSketch([], 1e-4) })
    clock.advance(10_001)
    push(engine, { keys: ['k1'] })
    expect(to('k1')).toContain('a')
    engine.sketch('a', { filter: buildSketch([], 1e-4) })
    push(engine, { keys: ['k2'] })
    expect(to('k2')).not.toContain('a')
    clock.advance(30_001)
    expect(engine.sketch('a', { added: ['k2'] })).toEqual({ replayed: 0, lost: true })
    // Back in touch: its next update is not lost.
    clock.advance(1000)
    expect(engine.sketch('a', { added: [] }).lost).toBe(false)
  })

  it('tells a client lost when a skip it may have missed was forgotten, though the window grew since', () => {
    const { clock, engine, to } = setup()
    engine.sketch('a', { filter: buildSketch([], 1e-4) })
    engine.sketch('b', { filter: buildSketch([], 1e-4) })
    push(engine, { keys: ['k1'] })
    expect(to('k1')).not.toContain('a')
    // b's update past the window forgets the skip; then the window is raised to 60 s.
    clock.advance(30_001)
    engine.sketch('b', { added: [] })
    engine.reconfigure({
      shards: 1,
      waves: { steps: [1], bakeMs: 0 },
      sketches: { staleMs: 10_000, windowMs: 60_000 },
    })
    // a cached k1 before the push, as it reports now: within the new window, but the skip is gone.
    clock.advance(1000)
    expect(engine.sketch('a', { added: ['k1'] })).toEqual({ replayed: 0, lost: true })
  })

  it('skips a returning client on a change it missed only if its sketch misses the keys', () => {
    const { engine, to } = setup()
    engine.sketch('a', { filter: buildSketch(['k1'], 1e-4) })
    engine.sketch('b', { filter: buildSketch([], 1e-4) })
    engine.leave('a')
    engine.leave('b')
    push(engine, { keys: ['k1'] })
    expect(to('k1')).toEqual(['c'])
    engine.join('a')
    engine.join('b')
    expect(to('k1').sort()).toEqual(['a', 'c'])
  })
})

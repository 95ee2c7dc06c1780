/**
 * The L1's entries (src/sdk/slot.ts), by construction: a fresh entry is the
 * value itself in a one-field slot, a read keeps one settled promise, tags
 * are interned, and a change turns an entry stale in place (the LRU order
 * stays) until its refetch lands and the fresh form comes back. No heap
 * figures here: `npm run bench -- sdk-memory` measures those.
 */
import { describe, expect, it } from 'vitest'
import { realClock } from '../../src/limiter/clock.js'
import { L1 } from '../../src/sdk/cache.js'
import { Refresher } from '../../src/sdk/refresher.js'
import { Fresh, Slot, Touched, tagSets } from '../../src/sdk/slot.js'

type Value = { key: string; v: number }

/** An L1 whose origin answers `key@version` and whose refetch tokens are always granted. */
const l1 = (opts: { background?: boolean; fail?: boolean } = {}) => {
  let version = 1
  const loads: string[] = []
  const refresher = new Refresher({
    clock: realClock,
    random: () => 0.5,
    concurrency: 4,
    maxBatch: 10,
    onError: (e) => {
      throw e
    },
    lease: async (want) => ({ granted: want, ttlMs: 60_000, retryAfterMs: 0 }),
  })
  const cache = new L1<Value>({
    max: 100,
    load: async (key) => {
      loads.push(key)
      if (opts.fail && version > 1) throw new Error('origin down')
      return { key, v: version }
    },
    refresher,
    observe: () => {},
    now: () => Date.now(),
    background: opts.background ?? true,
    maxWaitMs: 5000,
    onOverBudget: 'fail',
  })
  return {
    cache,
    loads,
    refresher,
    bump: () => {
      version++
    },
  }
}

describe('L1 entries', () => {
  it('holds a fresh value without an envelope, and reads it as a fresh entry', () => {
    const { cache } = l1()
    const a = { key: 'a', v: 1 }
    cache.set('a', a)
    const s = cache.lru.peek('a')!
    expect(s).toBeInstanceOf(Slot)
    expect(s.held).toBe(a)
    expect(Object.keys(s)).toEqual(['held'])
    expect({ ...s }).toEqual({ held: a })
    expect([s.state, s.value, s.hasValue, s.tags, s.gen]).toEqual(['fresh', a, true, [], 0])
    expect(cache.peek('a')).toEqual({ value: a, state: 'fresh' })
    // A peek is no read through get(): still bare.
    expect(s.held).toBe(a)
  })

  it('keeps one settled promise once read: every fresh hit hands back the same one', async () => {
    const { cache, loads } = l1()
    const a = { key: 'a', v: 1 }
    cache.set('a', a)
    const p = cache.get('a')
    expect(cache.get('a')).toBe(p)
    expect(await p).toBe(a)
    const held = cache.lru.peek('a')!.held
    expect(held).toBeInstanceOf(Fresh)
    expect(held).toMatchObject({ value: a, settled: p })
    expect(loads).toEqual([])
  })

  it('interns tags: equal sets share one frozen array, a caller mutating its own changes nothing', () => {
    const { cache } = l1()
    const mine = ['tenant:7']
    cache.set('a', { key: 'a', v: 1 }, mine)
    cache.set('b', { key: 'b', v: 1 }, ['tenant:7'])
    cache.set('c', { key: 'c', v: 1 }, ['tenant:8', 'eu'])
    const [a, b, c] = ['a', 'b', 'c'].map((k) => cache.lru.peek(k)!)
    expect(a!.tags).toBe(b!.tags)
    expect(Object.isFrozen(a!.tags)).toBe(true)
    mine.push('other')
    expect(a!.tags).toEqual(['tenant:7'])
    expect(c!.tags).toEqual(['tenant:8', 'eu'])
    expect(cache.matching({ target: { tags: ['tenant:7'] } }).sort()).toEqual(['a', 'b'])
    expect(cache.matching({ target: { tags: ['eu'] } })).toEqual(['c'])
  })

  it('never confuses tag sets that join to the same string', () => {
    const intern = tagSets(2)
    const one = intern(['a\u0000b'])
    const two = intern(['a', 'b'])
    expect([one, two]).toEqual([['a\u0000b'], ['a', 'b']])
    expect(intern(['a\u0000b'])).toBe(one)
    // Past `max` sets the table starts over: still the right tags.
    expect(intern(['x'])).toEqual(['x'])
    expect(intern(['y'])).toEqual(['y'])
    expect(intern(['a', 'b'])).toEqual(['a', 'b'])
  })

  it('a soft change turns entries stale in place (LRU order kept), serves them, then the fresh form comes back', async () => {
    const { cache, loads, refresher, bump } = l1()
    for (const k of ['a', 'b', 'c']) cache.set(k, { key: k, v: 1 }, k === 'b' ? ['t'] : [])
    await cache.get('c')
    const order = [...cache.lru.keys()]
    const slots = order.map((k) => cache.lru.peek(k))
    bump()
    cache.invalidate(['a', 'b', 'c'], 'ch-1', 'soft', 'invalidate')
    expect([...cache.lru.keys()]).toEqual(order)
    expect(order.map((k) => cache.lru.peek(k))).toEqual(slots)
    const touched = cache.lru.peek('b')!.held as Touched<Value>
    expect(touched).toBeInstanceOf(Touched)
    // Its refetch is claimed at once (tokens are free here): stale, or refreshing.
    expect(['stale', 'refreshing']).toContain(touched.state)
    expect(touched).toMatchObject({ gen: 1, invalidatedBy: 'ch-1', tags: ['t'] })
    // Stale while it revalidates.
    expect((await cache.get('a')).v).toBe(1)
    const read = [...cache.lru.keys()]
    expect(read[0]).toBe('a')
    await refresher.idle()
    expect(loads.sort()).toEqual(['a', 'b', 'c'])
    // The refetches landing moved nothing either.
    expect([...cache.lru.keys()]).toEqual(read)
    for (const k of ['a', 'c']) {
      const s = cache.lru.peek(k)!
      expect(s.held).toEqual({ key: k, v: 2 })
      expect(s.state).toBe('fresh')
    }
    expect(cache.lru.peek('b')!.held).toMatchObject({ value: { key: 'b', v: 2 }, tags: ['t'] })
    expect(cache.lru.peek('b')!.held).toBeInstanceOf(Fresh)
    expect((await cache.get('c')).v).toBe(2)
  })

  it('a second change after the fresh form came back is refetched again', async () => {
    const { cache, loads, refresher, bump } = l1()
    cache.set('a', { key: 'a', v: 1 })
    for (const id of ['ch-1', 'ch-2']) {
      bump()
      cache.invalidate(['a'], id, 'soft', 'invalidate')
      expect(['stale', 'refreshing']).toContain(cache.lru.peek('a')!.state)
      await refresher.idle()
      expect(cache.lru.peek('a')!.held).not.toBeInstanceOf(Touched)
    }
    expect(loads).toEqual(['a', 'a'])
    expect((await cache.get('a')).v).toBe(3)
  })

  it('a hard change drops the value: a reader waits for the refetch, then the fresh form comes back', async () => {
    const { cache, loads, bump } = l1({ background: false })
    cache.set('a', { key: 'a', v: 1 })
    bump()
    cache.invalidate(['a'], 'ch-1', 'hard', 'invalidate')
    expect(cache.lru.peek('a')!.state).toBe('dead')
    expect(cache.peek('a')).toBeUndefined()
    const [x, y] = [cache.get('a'), cache.get('a')]
    expect(x).toBe(y)
    expect((await x).v).toBe(2)
    expect(loads).toEqual(['a'])
    expect(cache.lru.peek('a')!.held).toEqual({ key: 'a', v: 2 })
  })

  it('a failed refetch keeps serving the stale value', async () => {
    const { cache, loads, refresher, bump } = l1({ fail: true })
    cache.set('a', { key: 'a', v: 1 })
    bump()
    cache.invalidate(['a'], 'ch-1', 'soft', 'invalidate')
    await refresher.idle()
    expect(loads).toEqual(['a'])
    expect(cache.lru.peek('a')!.state).toBe('stale')
    expect((await cache.get('a')).v).toBe(1)
  })
})

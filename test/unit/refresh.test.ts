import { describe, expect, it } from 'vitest'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'
import { type LeaseGrant, RefreshDriver } from '../../src/refresh/driver.js'
import {
  beginRefresh,
  completeRefresh,
  failRefresh,
  freshEntry,
  invalidateEntry,
  needsRefresh,
  servable,
} from '../../src/refresh/entry.js'
import { matchesTarget } from '../../src/refresh/match.js'
import { TokenWallet } from '../../src/refresh/wallet.js'

describe('entry states', () => {
  it('soft: fresh → stale (served) → refreshing → fresh, one refetch per invalidation', () => {
    const e = freshEntry('v1')
    invalidateEntry(e, 'chg-1', 'soft')
    expect(e.state).toBe('stale')
    expect(servable(e)).toBe(true)
    expect(needsRefresh(e)).toBe(true)
    const gen = beginRefresh(e)
    expect(e.state).toBe('refreshing')
    expect(needsRefresh(e)).toBe(false)
    completeRefresh(e, gen, 'v2')
    expect(e).toMatchObject({ state: 'fresh', value: 'v2' })
    expect(needsRefresh(e)).toBe(false)
  })

  it('an invalidation during a refresh keeps the entry stale and asks for one more refetch', () => {
    const e = freshEntry('v1')
    invalidateEntry(e, 'chg-1', 'soft')
    const gen = beginRefresh(e)
    invalidateEntry(e, 'chg-2', 'soft')
    expect(needsRefresh(e)).toBe(true)
    const gen2 = beginRefresh(e)
    expect(needsRefresh(e)).toBe(false)
    // The newer answer lands first; the older one must not overwrite it.
    completeRefresh(e, gen2, 'v3')
    completeRefresh(e, gen, 'v2')
    expect(e).toMatchObject({ state: 'fresh', value: 'v3', invalidatedBy: 'chg-2' })
  })

  it('an older answer landing alone leaves the entry servable but stale', () => {
    const e = freshEntry('v1')
    invalidateEntry(e, 'chg-1', 'soft')
    const gen = beginRefresh(e)
    invalidateEntry(e, 'chg-2', 'soft')
    completeRefresh(e, gen, 'v2')
    expect(e).toMatchObject({ state: 'stale', value: 'v2' })
    expect(needsRefresh(e)).toBe(true)
  })

  it('hard: the value is dead until refetched; errors keep what we had', () => {
    const e = freshEntry('v1')
    invalidateEntry(e, 'chg-1', 'hard')
    expect(servable(e)).toBe(false)
    const g = beginRefresh(e)
    failRefresh(e, g)
    expect(e.state).toBe('dead')
    expect(needsRefresh(e)).toBe(true)
    const soft = freshEntry('v1')
    invalidateEntry(soft, 'chg-3', 'soft')
    const g2 = beginRefresh(soft)
    failRefresh(soft, g2)
    expect(soft).toMatchObject({ state: 'stale', value: 'v1' })
  })

  it('matches keys, tags, prefixes and all', () => {
    expect(matchesTarget({ all: true }, 'x', [])).toBe(true)
    expect(matchesTarget({ keys: ['a', 'b'] }, 'b', [])).toBe(true)
    expect(matchesTarget({ tags: ['cat'] }, 'x', ['dog', 'cat'])).toBe(true)
    expect(matchesTarget({ prefixes: ['page:'] }, 'page:1', [])).toBe(true)
    expect(matchesTarget({ keys: ['a'], tags: ['t'], prefixes: ['p'] }, 'zz', ['u'])).toBe(false)
  })
})

describe('token wallet', () => {
  it('spends oldest tokens first and drops them at the TTL counted from the ask', () => {
    const clock = new VirtualClock(0)
    const w = new TokenWallet(clock)
    w.add(3, 100, 0)
    clock.advance(50)
    w.add(2, 100)
    expect(w.available()).toBe(5)
    expect(w.take(2)).toBe(2)
    clock.advance(50)
    expect(w.available()).toBe(2)
    clock.advance(50)
    expect(w.take(5)).toBe(0)
  })
})

describe('refresh driver', () => {
  const setup = (grants: (want: number) => LeaseGrant | Promise<LeaseGrant>, pending = 10) => {
    const clock = new VirtualClock(0)
    const state = { pending, ran: [] as [number, number][], asked: [] as number[] }
    const driver = new RefreshDriver({
      clock,
      maxBatch: 4,
      random: () => 0,
      lease: (want) => {
        state.asked.push(want)
        return grants(want)
      },
      pending: () => state.pending,
      run: (n) => {
        state.ran.push([clock.now(), n])
        state.pending -= n
      },
    })
    return { clock, state, driver }
  }

  it('leases in batches of at most maxBatch and runs one refetch per token', () => {
    const { state, driver } = setup((want) => ({ granted: want, ttlMs: 100, retryAfterMs: 0 }))
    driver.wake()
    expect(state.asked).toEqual([4, 4, 2])
    expect(state.ran.map(([, n]) => n)).toEqual([4, 4, 2])
    expect(state.pending).toBe(0)
  })

  it('sleeps retryAfterMs on an empty grant, then tries again', () => {
    let budget = 3
    const { clock, state, driver } = setup((want) => {
      const granted = Math.min(want, budget)
      budget -= granted
      return { granted, ttlMs: 100, retryAfterMs: granted ? 0 : 250 }
    })
    driver.wake()
    expect(state.ran).toEqual([[0, 3]])
    expect(driver.waiting).toBe(true)
    budget = 10
    clock.advance(249)
    expect(state.ran).toHaveLength(1)
    clock.advance(1)
    expect(state.ran).toEqual([
      [0, 3],
      [250, 4],
      [250, 3],
    ])
  })

  it('asks ahead for jobs queued behind its slots, as many as it spent over the last TTL', () => {
    // Two slots (pending ≤ 2), 100 jobs behind them; each refetch takes 5 ms.
    const clock = new VirtualClock(0)
    let queued = 100
    let pending = 2
    const asked: number[] = []
    const driver: RefreshDriver = new RefreshDriver({
      clock,
      maxBatch: 50,
      random: () => 0,
      lease: (want) => {
        asked.push(want)
        return { granted: want, ttlMs: 100, retryAfterMs: 0 }
      },
      pending: () => pending,
      queued: () => queued,
      run: (n) => {
        pending -= n
        for (let i = 0; i < n; i++)
          clock.setTimer(5, () => {
            if (queued > 0) {
              queued--
              pending++
            }
            driver.wake()
          })
      },
    })
    driver.wake()
    clock.runAll({ limit: 100_000 })
    expect(queued).toBe(0)
    expect(pending).toBe(0)
    // 102 refetches: the first lease for the two slots alone (nothing spent yet), then batches
    // sized by the pace (2 per 5 ms = 40 per 100 ms TTL), not one lease per slot freed (51).
    expect(asked[0]).toBe(2)
    expect(asked.length).toBeLessThan(10)
    expect(Math.max(...asked)).toBeLessThanOrEqual(50)
    // Tokens that expired unused: at most one TTL's pace beyond the work.
    expect(asked.reduce((a, b) => a + b, 0) - 102).toBeLessThanOrEqual(40)
  })

  it('works with an asynchronous lease and backs off on errors', async () => {
    let calls = 0
    const { clock, state, driver } = setup(async (want) => {
      calls++
      if (calls === 1) throw new Error('coordinator down')
      return { granted: want, ttlMs: 100, retryAfterMs: 0 }
    }, 3)
    driver.wake()
    await Promise.resolve()
    await Promise.resolve()
    expect(state.ran).toEqual([])
    clock.advance(5000)
    await new Promise((r) => setImmediate(r))
    expect(state.pending).toBe(0)
    driver.close()
  })
})

/**
 * The SDK's refetch queue: jobs run in priority order (a reader blocked on a
 * hard miss, then stale entries someone asked for, then rewarm), each after
 * taking a leased token, and a queued job can be moved up.
 */
import { describe, expect, it } from 'vitest'
import { realClock } from '../../src/limiter/clock.js'
import type { RefreshReason } from '../../src/refresh/priority.js'
import { Refresher } from '../../src/sdk/refresher.js'

/** A refresher with one origin slot; the lease grants `tokens` in all, one per call, then nothing. */
const refresher = (tokens: number) => {
  let left = tokens
  const leased: number[] = []
  const r = new Refresher({
    clock: realClock,
    random: () => 0.5,
    concurrency: 1,
    maxBatch: 1,
    onError: (e) => {
      throw e
    },
    lease: async (want) => {
      const granted = Math.min(want, left)
      left -= granted
      leased.push(granted)
      return { granted, ttlMs: 60_000, retryAfterMs: granted ? 0 : 60_000 }
    },
  })
  return { r, leased }
}

describe('Refresher', () => {
  it('runs hard misses first, then soft refreshes, then rewarm, whatever order they came in', async () => {
    const { r } = refresher(100)
    const ran: string[] = []
    const job = (name: string) => async () => {
      ran.push(name)
    }
    const queued: [string, RefreshReason][] = [
      ['first', 'softRefresh'], // takes the one slot at once
      ['rewarm-1', 'rewarm'],
      ['soft-1', 'softRefresh'],
      ['rewarm-2', 'rewarm'],
      ['hard-1', 'hardMiss'],
      ['soft-2', 'softRefresh'],
      ['hard-2', 'hardMiss'],
    ]
    const done = queued.map(([name, reason]) => r.run('invalidate', reason, job(name)))
    await Promise.all(done)
    expect(ran).toEqual(['first', 'hard-1', 'hard-2', 'soft-1', 'soft-2', 'rewarm-1', 'rewarm-2'])
    expect(r.tokensUsed).toBe(7)
    r.close()
  })

  it('moves a queued job up when a reader starts waiting on it', async () => {
    const { r } = refresher(100)
    const ran: string[] = []
    const job = (name: string) => async () => {
      ran.push(name)
    }
    const done = [
      r.run('invalidate', 'softRefresh', job('first')),
      r.run('invalidate', 'softRefresh', job('soft')),
      r.run('invalidate', 'rewarm', job('page:1'), { id: 'page:1' }),
    ]
    r.promote('page:1', 'hardMiss')
    await Promise.all(done)
    expect(ran).toEqual(['first', 'page:1', 'soft'])
    r.close()
  })

  it('calls the origin only with a token, and a job not needed any more costs none', async () => {
    const { r } = refresher(1)
    const ran: string[] = []
    const a = r.run('invalidate', 'hardMiss', async () => {
      ran.push('a')
    })
    await a
    // No token left: the next job waits, the origin is not called.
    let needed = true
    const b = r.runIfNeeded(
      'invalidate',
      'softRefresh',
      () => needed,
      async () => {
        ran.push('b')
      },
    )
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(ran).toEqual(['a'])
    expect(r.tokensUsed).toBe(1)
    r.close()
    await expect(b).rejects.toThrow()
    needed = false
    // A job that is no longer needed when its turn comes spends nothing.
    const { r: r2 } = refresher(0)
    await r2.runIfNeeded(
      'invalidate',
      'softRefresh',
      () => needed,
      async () => {
        ran.push('c')
      },
    )
    expect(ran).toEqual(['a'])
    expect(r2.tokensUsed).toBe(0)
    r2.close()
  })
})

/**
 * A lease with no token to grant yet waits at the coordinator for it (up to
 * PARK_MAX_MS) instead of answering "none" at once, and a grant after a wait
 * carries the wait in its TTL (the SDK counts a TTL from its ask); a token
 * due later than that is refused at once with when to ask again. Rewarm
 * tokens come a share's burst at a time (all that is asked, if less), or
 * none. Over real HTTP, on the memory store and on Redis (the Lua twin).
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { Coordinator } from '../../src/coordinator/coordinator.js'
import { PARK_MAX_MS } from '../../src/coordinator/lease-park.js'
import { post, startCoordinator } from '../helpers/coordinator.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'

const TTL_MS = 250
const TOKEN = 'park-token-0123456789'

const config = {
  budgets: {
    // One token every 100 ms: a lease that finds none waits for the next.
    invalidate: { ratePerSec: 10, burst: 1 },
    // One token a second: the next is beyond the wait, so none is refused at once.
    urgent: { ratePerSec: 1, burst: 1 },
    // Its adaptive rate starts at half of this (400/s, a burst of 100 ms: 40) and holds there
    // (no heartbeat reports the origin).
    rewarm: { ratePerSec: 800, burst: 80 },
  },
  rewarm: { start: 0.5 },
  leases: { ttlMs: TTL_MS, maxBatch: 50 },
  auth: { tokens: [{ name: 'app', scopes: ['client' as const], secret: TOKEN }] },
}

interface Grant {
  granted: number
  ttlMs: number
  retryAfterMs: number
}

const lease = async (url: string, clientId: string, want: number, cls: string) => {
  const res = await post(
    `${url}/v1/leases`,
    { clientId, want, class: cls },
    { authorization: `Bearer ${TOKEN}` },
  )
  if (res.status !== 200) throw new Error(`lease: ${res.status} ${await res.text()}`)
  return (await res.json()) as Grant
}

const exercise = async (url: string) => {
  // The buckets start empty (a cold start): the first token may be waited for too. The next is
  // due 100 ms after it: waited for, then a whole TTL from then.
  expect((await lease(url, 'a', 1, 'invalidate')).granted).toBe(1)
  const parked = await lease(url, 'a', 1, 'invalidate')
  expect(parked.granted).toBe(1)
  expect(parked.ttlMs).toBeGreaterThan(TTL_MS + 50)
  expect(parked.ttlMs).toBeLessThanOrEqual(TTL_MS + PARK_MAX_MS + 50)
  // The next token is a second away: refused at once, with when to ask again.
  // (A cold memory store starts it empty, Redis full: the first or the second ask finds none.)
  let refused = await lease(url, 'a', 1, 'urgent')
  if (refused.granted > 0) refused = await lease(url, 'a', 1, 'urgent')
  expect(refused.granted).toBe(0)
  expect(refused.retryAfterMs).toBeGreaterThan(PARK_MAX_MS)
  // Rewarm: alone, a client's share is the whole burst; with a second asking, half of it.
  // (Its burst at least: a replica that has not heard the leader's rate yet grants from the budget.)
  expect((await lease(url, 'r1', 50, 'rewarm')).granted).toBeGreaterThanOrEqual(40)
  const second = await lease(url, 'r2', 50, 'rewarm')
  expect(second.granted).toBeGreaterThanOrEqual(20)
  const sizes: number[] = []
  for (let i = 0; i < 6; i++) {
    const [x, y] = await Promise.all([
      lease(url, 'r1', 50, 'rewarm'),
      lease(url, 'r2', 50, 'rewarm'),
    ])
    sizes.push(x.granted, y.granted)
  }
  // Each grant is a share's burst or more (20 of 40 between two), never a token or two.
  for (const n of sizes) expect(n === 0 || n >= 20).toBe(true)
  expect(sizes.some((n) => n > 0)).toBe(true)
}

describe('a lease that finds no token yet', () => {
  const cos: Coordinator[] = []
  let redis: RedisServer | undefined
  afterAll(async () => {
    for (const co of cos) await co.close()
    await redis?.stop()
  })

  it('waits for it at the coordinator (memory store)', { timeout: 30_000 }, async () => {
    const { co, url } = await startCoordinator(config)
    cos.push(co)
    await exercise(url)
  })

  it('waits for it at the coordinator (Redis)', { timeout: 60_000 }, async () => {
    redis = await startRedis()
    const { co, url } = await startCoordinator({
      ...config,
      fleet: 'park',
      store: { kind: 'redis' as const, url: redis.url },
    })
    cos.push(co)
    await exercise(url)
  })
})

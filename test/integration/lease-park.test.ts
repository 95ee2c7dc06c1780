/**
 * A rewarm lease with no tokens to grant yet waits at the coordinator for
 * them (up to PARK_MAX_MS) instead of answering "none" at once, and a grant
 * after a wait carries the wait in its TTL (the SDK counts a TTL from its
 * ask); rewarm tokens come a share's burst at a time (all that is asked, if
 * less), or none. An invalidate lease, which a reader may wait on, is
 * answered at once. Over real HTTP, on the memory store and on Redis (the
 * Lua twin).
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
    // One token every 100 ms: an invalidate lease that finds none is refused at once.
    invalidate: { ratePerSec: 10, burst: 1 },
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
  // Rewarm: alone, a client's share is the whole burst (at least: a replica that has not heard
  // the leader's rate yet grants from the budget).
  expect((await lease(url, 'r1', 50, 'rewarm')).granted).toBeGreaterThanOrEqual(40)
  // Asking on empties the bucket (a replica that has not heard the leader's rate may hold
  // more); then the next burst is 100 ms away: waited for, then a whole TTL from then.
  let parked = await lease(url, 'r1', 40, 'rewarm')
  for (let i = 0; i < 5 && parked.ttlMs === TTL_MS; i++)
    parked = await lease(url, 'r1', 40, 'rewarm')
  expect(parked.granted).toBe(40)
  expect(parked.ttlMs).toBeGreaterThan(TTL_MS)
  expect(parked.ttlMs).toBeLessThanOrEqual(TTL_MS + PARK_MAX_MS + 50)
  // With a second client asking, each grant is a share's burst or more (20 of 40), never a token
  // or two.
  const sizes: number[] = []
  for (let i = 0; i < 6; i++) {
    const [x, y] = await Promise.all([
      lease(url, 'r1', 50, 'rewarm'),
      lease(url, 'r2', 50, 'rewarm'),
    ])
    sizes.push(x.granted, y.granted)
  }
  for (const n of sizes) expect(n === 0 || n >= 20).toBe(true)
  expect(sizes.some((n) => n > 0)).toBe(true)
  // Invalidate: a reader may wait on it, so it is answered at once, with when to ask again.
  // (A cold memory store starts the bucket empty, Redis full: the first or second ask finds none.)
  let refused = await lease(url, 'a', 1, 'invalidate')
  if (refused.granted > 0) refused = await lease(url, 'a', 1, 'invalidate')
  expect(refused.granted).toBe(0)
  expect(refused.retryAfterMs).toBeGreaterThan(0)
  expect(refused.retryAfterMs).toBeLessThanOrEqual(100 + 1)
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

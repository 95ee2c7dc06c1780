/**
 * Issue 12's fuzz (test/integration/fuzz.test.ts), smaller, on the Redis
 * store: a coordinator on a private redis-server, every route, arbitrary
 * requests. Held to the same checks (test/helpers/fuzz/probe.ts); what a
 * refusal must not change is `co.inspect()` and everything in Redis but
 * what moves on its own (the leader's lease and its terms, the replicas'
 * heartbeats, keys about to expire).
 *
 * Runs: SLEW_PROPERTY_RUNS / 20 per route (13 by default, twice that
 * anywhere): about 300 requests.
 */
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, it } from 'vitest'
import type { Coordinator } from '../../src/coordinator/coordinator.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'
import { fleetKeys } from '../../src/store/keys.js'
import { closeAfterAll, startCoordinator, waitFor } from '../helpers/coordinator.js'
import {
  anywhereArb,
  type FuzzLimits,
  requestArb,
  tokenConfig,
} from '../helpers/fuzz/arbitraries.js'
import { type FuzzTarget, probe, stableSnapshot, watchCrashes } from '../helpers/fuzz/probe.js'
import { ROUTES, routeName } from '../helpers/fuzz/routes.js'
import { type RedisServer, scanAll, startRedis } from '../helpers/redis.js'
import { params, RUNS } from '../property/runs.js'

const PER_ROUTE = Math.max(1, Math.round(RUNS / 20))
const FLEET = 'fuzz'
const limits: FuzzLimits = { fleet: FLEET, bodyBytes: 16 * 1024, maxKeys: 500 }

const closers = closeAfterAll()
const crashes = watchCrashes()
afterAll(() => crashes.stop())

/** Keys that change on their own, request or not: the lease, its terms, the replicas alive. */
const keys = fleetKeys(FLEET)
const MOVING: ReadonlySet<string> = new Set([keys.leader, keys.terms, keys.replicas])

/**
 * Every other key of the server, with its content (TTLs left out: they run
 * down). Keys due to expire within two minutes are left out too: Redis
 * drops them on its own clock (who asked for refetch tokens lately); so
 * is a key that expired while it was being read (scanned, then gone).
 */
const dump = async (redis: Redis): Promise<Record<string, unknown>> => {
  const out: Record<string, unknown> = {}
  for (const key of await scanAll(redis)) {
    if (MOVING.has(key)) continue
    const ttl = await redis.pttl(key)
    // -2: expired between the scan and now (type would say 'none').
    if (ttl === -2 || (ttl >= 0 && ttl <= 120_000)) continue
    const type = await redis.type(key)
    if (type === 'none') continue
    if (type === 'string') out[key] = await redis.get(key)
    else if (type === 'hash') out[key] = await redis.hgetall(key)
    else if (type === 'zset') out[key] = await redis.zrange(key, 0, -1, 'WITHSCORES')
    else if (type === 'set') out[key] = (await redis.smembers(key)).sort()
    else if (type === 'list') out[key] = await redis.lrange(key, 0, -1)
    else if (type === 'stream') out[key] = await redis.xrange(key, '-', '+')
    else out[key] = type
  }
  return out
}

let target: FuzzTarget
beforeAll(async () => {
  const server: RedisServer = await startRedis()
  closers.push(() => server.stop())
  const redis = new Redis(server.url, { lazyConnect: true })
  await redis.connect()
  closers.push(async () => {
    redis.disconnect()
  })
  const clock = new VirtualClock(1_700_000_000_000)
  const { co, url } = await startCoordinator(
    {
      fleet: FLEET,
      store: { kind: 'redis', url: server.url },
      limits: { bodyBytes: limits.bodyBytes },
      rewarm: { maxKeys: limits.maxKeys, maxBodyBytes: 64 * 1024, intervalMs: 3_600_000 },
      auth: { tokens: tokenConfig },
    },
    { clock },
  )
  closers.push(() => co.close())
  await waitFor('the replica to lead', async () => {
    const r = await fetch(`${url}/readyz`)
    return r.status === 200 && ((await r.json()) as { role: string }).role === 'leader'
  })
  const rollouts = await seed(co)
  const snapshot = async () => ({ co: await co.inspect(), redis: await dump(redis) })
  // The seeds' commits land before the first snapshot.
  await stableSnapshot(snapshot)()
  target = {
    co,
    port: Number(new URL(url).port),
    clock,
    rollouts,
    snapshot,
    settle: stableSnapshot(snapshot),
  }
})

/** A rollout of each kind to aim at (committed to Redis). */
const seed = async (co: Coordinator): Promise<string[]> => {
  const ids = [
    co.engine.submit({ kind: 'invalidate', target: { keys: ['k1', 'k2'] } }),
    co.engine.submit({ kind: 'rewarm', target: { keys: ['k1', 'k2', 'k3'] } }),
    co.engine.submit({ kind: 'config', values: { a: 1 } }),
    co.engine.submit({ kind: 'invalidate', target: { tags: ['t1'] }, mode: 'hard' }),
  ].map((s) => s.rollout.id)
  return ids
}

const advanceArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3000 }))

describe('fuzz on Redis: every route, arbitrary requests', () => {
  for (const route of ROUTES) {
    it(`${routeName(route)}: no 5xx, refusals change nothing, nothing unhandled`, async () => {
      await fc.assert(
        fc.asyncProperty(requestArb(route, limits), advanceArb, async (req, advance) => {
          await probe(target, req, crashes.seen, advance)
        }),
        params(PER_ROUTE),
      )
    })
  }

  it('anywhere: any method on any path', async () => {
    await fc.assert(
      fc.asyncProperty(anywhereArb(ROUTES, limits), advanceArb, async (req, advance) => {
        await probe(target, req, crashes.seen, advance)
      }),
      params(PER_ROUTE * 2),
    )
  })
})

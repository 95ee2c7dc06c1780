/**
 * Every key the Redis store writes is one that src/store/keys.ts builds, and
 * carries the fleet's hash tag `{slew:<fleet>}`: a conformance-like workload
 * over every Store call (two fleets on one private Redis), then SCAN of the
 * whole server (which only this file uses). A key built inline elsewhere,
 * in another shape or without the tag, fails it.
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleetKeys, hashTag } from '../../src/store/keys.js'
import { RedisStore } from '../../src/store/redis.js'
import { type RedisServer, scanAll, startRedis } from '../helpers/redis.js'

let redis: RedisServer
const opened: { close(): Promise<void> | void }[] = []

beforeAll(async () => {
  redis = await startRedis()
})

afterAll(async () => {
  for (const s of opened) await s.close()
  await redis?.stop()
})

/** Every Store call that writes, with names of every kind; returns the keys it should have left. */
const workload = async (s: RedisStore, fleet: string): Promise<string[]> => {
  const k = fleetKeys(fleet)
  const p = { ratePerSec: 5, burst: 2 }
  const now = performance.timeOrigin + performance.now()
  const buckets = ['invalidate:delivery', 'rewarm:tokens', 'admission']
  await s.take(buckets[0]!, p, 1, now)
  await s.grantShare(buckets[1]!, 'c1', p, 1, now)
  await s.grant(buckets[1]!, p, 3, now)
  await s.take(buckets[2]!, p, 1, now)

  const fence = await s.acquireLeader('r1', 60_000, now)
  expect(await s.renewLeader('r1', fence, 60_000, now + 1)).toBe(true)
  await s.commit(
    fence,
    [
      { op: 'log', seq: 1, to: ['c1'], message: 'm1', meta: '{"type":"change"}' },
      { op: 'log', seq: 2, to: [], message: 'm2' },
      { op: 'set', field: 'rollout:1', value: '{}' },
      { op: 'set', field: 'gone', value: '{}' },
      { op: 'add', set: 'delivered:1', members: ['c1', 'c2'] },
      { op: 'add', set: 'delivered:2', members: ['c3'] },
    ],
    1, // trims the log, so the floor is written too
  )
  await s.commit(
    fence,
    [
      { op: 'del', field: 'gone' },
      { op: 'drop', set: 'delivered:2' },
    ],
    1,
  )
  await s.setPresence('c1', '{"r":"r1"}')
  await s.setPresence('c2', '{"r":"r1"}')
  await s.setPresence('c2', undefined)
  await s.setRewarm('chg-1', 'c1', '{"done":1}', 60_000)
  await s.publish('{"t":"join","c":"c1"}')
  await s.heartbeatReplica('r1', now + 60_000)
  // Reads too (they must not create keys of their own).
  await s.read(0, 10)
  await s.tail(0, 10, 10)
  await s.events('0', 10, 10)
  await s.bounds()
  await s.members('delivered:1')
  await s.rewarm('chg-1')
  await s.leader()
  await s.leaseTerms()

  return [
    ...buckets.map(k.bucket),
    k.asking(buckets[1]!),
    k.shares(buckets[1]!),
    k.leader,
    k.fence,
    k.terms,
    k.log,
    k.state,
    k.set('delivered:1'),
    k.presence,
    k.rewarm('chg-1'),
    k.events,
    k.replicas,
  ]
}

describe('the Redis store’s keys', () => {
  it('are exactly the ones keys.ts builds, each under its fleet’s hash tag', async () => {
    const fleets = ['keys-a', 'keys:b']
    const expected: string[] = []
    for (const fleet of fleets) {
      const s = await new RedisStore({ fleet, url: redis.url }).connect()
      opened.push(s)
      expected.push(...(await workload(s, fleet)))
    }
    const admin = new Redis(redis.url)
    opened.push({ close: () => admin.disconnect() })
    const keys = await scanAll(admin)

    expect(keys).toEqual([...expected].sort())
    for (const fleet of fleets) {
      const tag = hashTag(fleet)
      const mine = keys.filter((key) => key.startsWith(`${tag}:`))
      expect(mine.length).toBeGreaterThanOrEqual(12)
      // The tag is the key's first {...}: Redis Cluster hashes exactly this part.
      for (const key of mine) expect(key.slice(1, key.indexOf('}'))).toBe(`slew:${fleet}`)
    }
    expect(keys.every((key) => fleets.some((f) => key.startsWith(`${hashTag(f)}:`)))).toBe(true)
  })
})

/**
 * One conformance suite for every Store: the memory store, one Redis, and a
 * 3-master Redis Cluster (private servers on free ports, started and killed
 * here). The same calls must give the same answers everywhere.
 */
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FencedError } from '../../src/errors.js'
import { gcraGrant, gcraTake } from '../../src/limiter/gcra.js'
import { mulberry32 } from '../../src/sim/rng.js'
import { MemoryStore } from '../../src/store/memory.js'
import { RedisStore } from '../../src/store/redis.js'
import { commandName, loadScripts } from '../../src/store/scripts.js'
import type { Store } from '../../src/store/store.js'
import { type RedisServer, startCluster, startRedis } from '../helpers/redis.js'

type Kind = 'memory' | 'redis' | 'cluster'
let redis: RedisServer
let cluster: Awaited<ReturnType<typeof startCluster>>
const opened: Store[] = []

beforeAll(async () => {
  redis = await startRedis()
  cluster = await startCluster(3)
}, 60_000)

afterAll(async () => {
  for (const s of opened) await s.close()
  await redis?.stop()
  await cluster?.stop()
})

let fleets = 0
const open = async (kind: Kind): Promise<Store> => {
  const fleet = `conf-${process.pid}-${++fleets}`
  const s =
    kind === 'memory'
      ? new MemoryStore()
      : await new RedisStore({
          fleet,
          ...(kind === 'redis' ? { url: redis.url } : { cluster: cluster.startup }),
        }).connect()
  opened.push(s)
  return s
}

describe.each(['memory', 'redis', 'cluster'] as const)('%s store', (kind) => {
  it('takes and grants exactly as the pure GCRA does, at real-clock magnitudes', async () => {
    const s = await open(kind)
    const rand = mulberry32(42)
    const p = { ratePerSec: 37.5, burst: 9 }
    let tat = Number.NEGATIVE_INFINITY
    let now = 1.795e12 + 0.123
    for (let i = 0; i < 300; i++) {
      now += rand() * 120
      const n = 1 + Math.floor(rand() * 12)
      if (rand() < 0.5) {
        const want = gcraTake(tat, now, n, p)
        const got = await s.take('invalidate:delivery', p, n, now)
        expect(got.ok).toBe(want.ok)
        expect(got.retryAfterMs).toBeCloseTo(want.retryAfterMs, 6)
        if (want.ok) tat = want.tat
      } else {
        const want = gcraGrant(tat, now, n, p)
        const got = await s.grant('invalidate:delivery', p, n, now)
        expect(got.granted).toBe(want.granted)
        expect(got.retryAfterMs).toBeCloseTo(want.retryAfterMs, 6)
        tat = want.tat
      }
    }
  })

  it('keeps buckets apart by name', async () => {
    const s = await open(kind)
    const p = { ratePerSec: 1, burst: 1 }
    expect((await s.take('invalidate:tokens', p, 1, 1000)).ok).toBe(true)
    expect((await s.take('invalidate:tokens', p, 1, 1000)).ok).toBe(false)
    expect((await s.take('rewarm:tokens', p, 1, 1000)).ok).toBe(true)
  })

  it('leads with one replica at a time, fenced, and fails over after the lease', async () => {
    const s = await open(kind)
    const a = await s.acquireLeader('a', 300)
    expect(a).toBeGreaterThan(0)
    expect(await s.acquireLeader('b', 300)).toBe(0)
    expect(await s.acquireLeader('a', 300)).toBe(a)
    expect(await s.leader()).toEqual({ replica: 'a', fence: a })
    expect(await s.renewLeader('a', a + 1, 300)).toBe(false)
    expect(await s.renewLeader('a', a, 300)).toBe(true)
    await new Promise((r) => setTimeout(r, 400))
    const b = await s.acquireLeader('b', 300)
    expect(b).toBeGreaterThan(a)
    expect(await s.renewLeader('a', a, 300)).toBe(false)
    await expect(s.commit(a, [{ op: 'set', field: 'x', value: '1' }], 100)).rejects.toBeInstanceOf(
      FencedError,
    )
    expect(await s.releaseLeader('b', b)).toBe(true)
    expect(await s.leader()).toBeUndefined()
  })

  it('commits all or nothing, under the current fence only', async () => {
    const s = await open(kind)
    const fence = await s.acquireLeader('a', 10_000)
    await s.commit(
      fence,
      [
        { op: 'log', seq: 10, to: ['c1', 'c2'], message: '{"m":1}' },
        { op: 'log', seq: 12, to: [], message: '{"m":2}' },
        { op: 'set', field: 'rollout:1', value: '{"state":"rolling"}' },
        { op: 'add', set: 'delivered:1', members: ['c1', 'c2'] },
      ],
      1000,
    )
    const look = async () => ({
      state: await s.state(),
      members: (await s.members('delivered:1')).sort(),
      bounds: await s.bounds(),
    })
    const before = await look()
    expect(before.state).toEqual({ 'rollout:1': '{"state":"rolling"}' })
    expect(before.members).toEqual(['c1', 'c2'])
    expect(before.bounds).toEqual({ first: 10, last: 12, length: 2, floor: 0 })
    // A log seq that does not follow: refused, and nothing else of that commit lands.
    await expect(
      s.commit(
        fence,
        [
          { op: 'set', field: 'rollout:1', value: 'x' },
          { op: 'log', seq: 11, to: [], message: '{}' },
        ],
        1000,
      ),
    ).rejects.toBeInstanceOf(RangeError)
    await expect(
      s.commit(fence + 1, [{ op: 'del', field: 'rollout:1' }], 1000),
    ).rejects.toMatchObject({ code: 'E_FENCED' })
    expect(await look()).toEqual(before)
    await s.commit(
      fence,
      [
        { op: 'del', field: 'rollout:1' },
        { op: 'drop', set: 'delivered:1' },
      ],
      1000,
    )
    expect(await s.state()).toEqual({})
    expect(await s.members('delivered:1')).toEqual([])
  })

  it('reads the log after a seq, in order, and trims it to its max length, keeping the floor', async () => {
    const s = await open(kind)
    const fence = await s.acquireLeader('a', 10_000)
    for (let i = 1; i <= 300; i++) {
      await s.commit(
        fence,
        [{ op: 'log', seq: 1000 + i, to: [`c${i % 3}`], message: `{"i":${i}}` }],
        100,
      )
    }
    const b = await s.bounds()
    expect(b).toEqual({ first: 1201, last: 1300, length: 100, floor: 1200 })
    const after = await s.read(1290, 5)
    expect(after.map((r) => r.seq)).toEqual([1291, 1292, 1293, 1294, 1295])
    expect(after[0]).toEqual({ seq: 1291, to: ['c0'], message: '{"i":291}' })
    expect(await s.read(1300, 5)).toEqual([])
  })
  it('tails the log: waits for an entry, then returns it', async () => {
    const s = await open(kind)
    const fence = await s.acquireLeader('a', 10_000)
    expect(await s.tail(0, 10, 50)).toEqual([])
    const waiting = s.tail(0, 10, 1000)
    await new Promise((r) => setTimeout(r, 50))
    await s.commit(fence, [{ op: 'log', seq: 7, to: ['x'], message: 'm' }], 100)
    expect(await waiting).toEqual([{ seq: 7, to: ['x'], message: 'm' }])
  })

  it('keeps rewarm checkpoints per change and client, until they expire', async () => {
    const s = await open(kind)
    await s.setRewarm('chg-1', 'c1', '{"done":1}', 60_000)
    await s.setRewarm('chg-1', 'c2', '{"done":2}', 60_000)
    await s.setRewarm('chg-1', 'c1', '{"done":3}', 60_000)
    await s.setRewarm('chg-2', 'c1', '{"done":9}', 150)
    expect(await s.rewarm('chg-1')).toEqual({ c1: '{"done":3}', c2: '{"done":2}' })
    expect(await s.rewarmOf('chg-1', 'c2')).toBe('{"done":2}')
    expect(await s.rewarmOf('chg-1', 'c3')).toBeUndefined()
    expect(await s.rewarm('chg-3')).toEqual({})
    expect(await s.rewarmOf('chg-2', 'c1')).toBe('{"done":9}')
    await new Promise((r) => setTimeout(r, 300))
    expect(await s.rewarm('chg-2')).toEqual({})
    expect(await s.rewarmOf('chg-2', 'c1')).toBeUndefined()
  })

  it('keeps presence, events for the leader, and replica liveness', async () => {
    const s = await open(kind)
    await s.setPresence('c1', '{"replica":"r1"}')
    await s.setPresence('c2', '{"replica":"r2"}')
    await s.setPresence('c1', undefined)
    expect(await s.presence()).toEqual({ c2: '{"replica":"r2"}' })
    expect(await s.lastEventId()).toBe('0-0')
    const a = await s.publish('join c2')
    expect(await s.lastEventId()).toBe(a)
    await s.publish('leave c2')
    const all = await s.events('0', 10, 0)
    expect(all.map((e) => e.event)).toEqual(['join c2', 'leave c2'])
    expect((await s.events(a, 10, 0)).map((e) => e.event)).toEqual(['leave c2'])
    const later = s.events(all[1]!.id, 10, 1000)
    await new Promise((r) => setTimeout(r, 50))
    await s.publish('report c3 10')
    expect((await later).map((e) => e.event)).toEqual(['report c3 10'])
    await s.heartbeatReplica('r1', 12345)
    expect(await s.replicas()).toEqual({ r1: 12345 })
    expect(await s.stateField('nope')).toBeUndefined()
  })
})

describe('script versions', () => {
  it('two slew versions on one Redis never run each other’s scripts', async () => {
    const v1 = await new RedisStore({
      fleet: 'versions',
      url: redis.url,
      version: '1.0.0',
    }).connect()
    const v2 = await new RedisStore({
      fleet: 'versions',
      url: redis.url,
      version: '2.0.0',
    }).connect()
    opened.push(v1, v2)
    const p = { ratePerSec: 10, burst: 10 }
    await v1.take('b', p, 1, 1000)
    await v2.take('b', p, 1, 1000)
    const sha = (version: string, name: string) =>
      createHash('sha1')
        .update(loadScripts(version).find((x) => x.name === name)!.lua)
        .digest('hex')
    const [take1, take2] = [sha('1.0.0', 'gcraTake'), sha('2.0.0', 'gcraTake')]
    // Same logic, different text (the version is stamped in): different scripts on the server.
    expect(take1).not.toBe(take2)
    expect(await v1.client.script('EXISTS', take1, take2)).toEqual([1, 1])
    expect(commandName('1.0.0', 'gcraTake')).toBe('slew_1_0_0_gcraTake')
    expect(typeof (v2.client as unknown as Record<string, unknown>).slew_1_0_0_gcraTake).toBe(
      'undefined',
    )
  })
})

/**
 * One conformance suite for every Store: the memory store, one Redis, and a
 * 3-master Redis Cluster (private servers on free ports, started and killed
 * here). The same calls must give the same answers everywhere.
 */
import { createHash } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FencedError } from '../../src/errors.js'
import { Asking, FAIR_WINDOW_MS, gcraGrantShare } from '../../src/limiter/fair.js'
import { gcraGrant, gcraTake } from '../../src/limiter/gcra.js'
import { mulberry32 } from '../../src/sim/rng.js'
import { MemoryStore } from '../../src/store/memory.js'
import { RedisStore } from '../../src/store/redis.js'
import { commandName, loadScripts } from '../../src/store/scripts.js'
import { EVENTS_KEPT, type Store } from '../../src/store/store.js'
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

  it('grants fair shares exactly as the pure functions do, forgetting who stopped asking', async () => {
    const s = await open(kind)
    const rand = mulberry32(7)
    const p = { ratePerSec: 37.5, burst: 9 }
    const asking = new Asking()
    let tat = Number.NEGATIVE_INFINITY
    let now = 1.795e12 + 0.123
    let most = 0
    let refused = 0
    for (let i = 0; i < 400; i++) {
      // Bursts of asks, and now and then a pause longer than the window (everyone forgotten).
      now += rand() < 0.03 ? FAIR_WINDOW_MS + rand() * 500 : rand() * 40
      const clientId = `c${Math.floor(rand() * 5)}`
      const n = 1 + Math.floor(rand() * 12)
      // Half the asks a share's burst at a time (as rewarm leases are), or none.
      const inBursts = rand() < 0.5
      const who = asking.ask(clientId, now)
      most = Math.max(most, who.asking)
      const want = gcraGrantShare(
        tat,
        who.clientTat,
        who.asking,
        now,
        n,
        p,
        FAIR_WINDOW_MS,
        asking.hold,
        inBursts,
      )
      asking.set(clientId, want.clientTat)
      asking.hold = want.hold
      refused += want.granted === 0 && inBursts ? 1 : 0
      const got = await s.grantShare('invalidate:tokens', clientId, p, n, now, inBursts)
      expect(got.granted).toBe(want.granted)
      expect(got.retryAfterMs).toBeCloseTo(want.retryAfterMs, 6)
      tat = want.tat
    }
    expect(most).toBe(5)
    expect(refused).toBeGreaterThan(0)
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
    const a = await s.acquireLeader('a', 300, Date.now())
    expect(a).toBeGreaterThan(0)
    expect(await s.acquireLeader('b', 300, Date.now())).toBe(0)
    expect(await s.acquireLeader('a', 300, Date.now())).toBe(a)
    expect(await s.leader()).toEqual({ replica: 'a', fence: a })
    expect(await s.renewLeader('a', a + 1, 300, Date.now())).toBe(false)
    expect(await s.renewLeader('a', a, 300, Date.now())).toBe(true)
    await new Promise((r) => setTimeout(r, 400))
    const b = await s.acquireLeader('b', 300, Date.now())
    expect(b).toBeGreaterThan(a)
    expect(await s.renewLeader('a', a, 300, Date.now())).toBe(false)
    await expect(s.commit(a, [{ op: 'set', field: 'x', value: '1' }], 100)).rejects.toBeInstanceOf(
      FencedError,
    )
    expect(await s.releaseLeader('b', b)).toBe(true)
    expect(await s.leader()).toBeUndefined()
  })

  it('commits all or nothing, under the current fence only', async () => {
    const s = await open(kind)
    const fence = await s.acquireLeader('a', 10_000, Date.now())
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

  it('keeps the fleet’s epoch (the first candidate wins) and commits only in it', async () => {
    const s = await open(kind)
    expect(await s.epoch('e1')).toBe('e1')
    expect(await s.epoch('e2')).toBe('e1')
    const fence = await s.acquireLeader('a', 10_000, Date.now())
    await s.commit(fence, [{ op: 'set', field: 'x', value: '1' }], 1000, 'e1')
    // State of another epoch (a leader from before the store lost its state): refused, no trace.
    const stale = await s
      .commit(
        fence,
        [
          { op: 'set', field: 'x', value: '2' },
          { op: 'log', seq: 5, to: [], message: '{}' },
        ],
        1000,
        'e0',
      )
      .catch((e: unknown) => e)
    expect(stale).toBeInstanceOf(FencedError)
    expect(stale).toMatchObject({ code: 'E_FENCED', details: { epoch: 'e0', currentEpoch: 'e1' } })
    expect(await s.state()).toEqual({ x: '1' })
    expect((await s.bounds()).last).toBe(0)
  })

  it('reads the log after a seq, in order, and trims it to its max length, keeping the floor', async () => {
    const s = await open(kind)
    const fence = await s.acquireLeader('a', 10_000, Date.now())
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
    const fence = await s.acquireLeader('a', 10_000, Date.now())
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
    // Compare and delete: a stream that ended never erases the presence a newer one wrote.
    await s.setPresence('c2', '{"replica":"r3"}')
    expect(await s.dropPresence('c2', '{"replica":"r2"}')).toBe(false)
    expect(await s.presence()).toEqual({ c2: '{"replica":"r3"}' })
    expect(await s.dropPresence('c2', '{"replica":"r3"}')).toBe(true)
    expect(await s.dropPresence('c9', '{"replica":"r3"}')).toBe(false)
    expect(await s.presence()).toEqual({})
    await s.setPresence('c2', '{"replica":"r2"}')
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

  it('keeps the newest EVENTS_KEPT events, and says where what it holds begins', async () => {
    const s = await open(kind)
    expect(await s.firstEventId()).toBe('0-0')
    const first = await s.publish('e0')
    expect(await s.firstEventId()).toBe(first)
    const ids = await Promise.all(
      Array.from({ length: EVENTS_KEPT + 500 }, (_, i) => s.publish(`e${i + 1}`)),
    )
    const held = await s.events('0', EVENTS_KEPT * 2, 0)
    // Redis trims whole nodes of its stream (`MAXLEN ~`): a few more may stay.
    expect(held.length).toBeGreaterThanOrEqual(EVENTS_KEPT)
    expect(held.length).toBeLessThanOrEqual(EVENTS_KEPT + 200)
    expect(held.at(-1)!.id).toBe(ids.at(-1))
    expect(await s.firstEventId()).toBe(held[0]!.id)
    expect(held[0]!.id).not.toBe(first)
  })

  it('says whether a set names a member', async () => {
    const s = await open(kind)
    const fence = await s.acquireLeader('a', 10_000, Date.now())
    await s.commit(fence, [{ op: 'add', set: 'delivered:1', members: ['c1', 'c2'] }], 100)
    expect(await s.isMember('delivered:1', 'c1')).toBe(true)
    expect(await s.isMember('delivered:1', 'c3')).toBe(false)
    expect(await s.isMember('delivered:2', 'c1')).toBe(false)
  })
})

describe.each(['redis', 'cluster'] as const)('%s store: the lease’s terms', (kind) => {
  it('records each term’s start and last renewal, from the caller’s clock', async () => {
    const s = (await open(kind)) as RedisStore
    const a = await s.acquireLeader('r|a', 300, 1000)
    expect(await s.acquireLeader('r|a', 300, 1100)).toBe(a) // keeping the lease renews it
    expect(await s.renewLeader('r|a', a, 300, 1200)).toBe(true)
    // Refused calls leave no trace.
    expect(await s.renewLeader('r|a', a + 1, 300, 1250)).toBe(false)
    expect(await s.acquireLeader('b', 300, 1260)).toBe(0)
    await new Promise((r) => setTimeout(r, 400))
    const b = await s.acquireLeader('b', 300, 2000)
    expect(await s.renewLeader('r|a', a, 300, 2100)).toBe(false)
    expect(await s.leaseTerms()).toEqual([
      { fence: b, replica: 'b', acquiredAt: 2000, renewedAt: 2000 },
      { fence: a, replica: 'r|a', acquiredAt: 1000, renewedAt: 1200 },
    ])
  })

  it('keeps the newest 32 terms', async () => {
    const s = (await open(kind)) as RedisStore
    for (let i = 1; i <= 40; i++) {
      const f = await s.acquireLeader(`r${i}`, 10_000, i * 10)
      expect(await s.releaseLeader(`r${i}`, f)).toBe(true)
    }
    const terms = await s.leaseTerms()
    expect(terms.map((t) => t.replica)).toEqual(Array.from({ length: 32 }, (_, i) => `r${40 - i}`))
    expect(terms[0]).toMatchObject({ acquiredAt: 400, renewedAt: 400 })
  })
})

describe('script versions', () => {
  const sha1 = (text: string | Buffer) => createHash('sha1').update(text).digest('hex')
  /**
   * A script's bytes back from MONITOR's quoted form (Redis escapes \\ \" \n \r \t \a \b
   * and other bytes as \xhh; ioredis has already turned \" back into ").
   */
  const unrepr = (quoted: string): Buffer => {
    const bytes: number[] = []
    const named: Record<string, number> = { n: 10, r: 13, t: 9, a: 7, b: 8 }
    for (let i = 0; i < quoted.length; i++) {
      const c = quoted[i]!
      if (c !== '\\') bytes.push(...Buffer.from(c))
      else if (quoted[i + 1] === 'x') {
        bytes.push(Number.parseInt(quoted.slice(i + 2, i + 4), 16))
        i += 3
      } else {
        const e = quoted[++i]!
        bytes.push(named[e] ?? e.charCodeAt(0))
      }
    }
    return Buffer.from(bytes)
  }
  type Registered = Record<string, { sha: string }>
  /** The commands ioredis registered on a store's client (defineCommand keeps them in scriptsSet). */
  const registered = (s: RedisStore) =>
    (s.client as unknown as { scriptsSet: Registered }).scriptsSet

  it('two slew versions on one Redis never run each other’s scripts, even after SCRIPT FLUSH', async () => {
    const fleet = 'versions'
    // 2.0.0's gcraGrant differs from 1.0.0's: it grants one unit at a time.
    const patched = loadScripts('2.0.0').map((s) =>
      s.name !== 'gcraGrant'
        ? s
        : {
            ...s,
            lua: s.lua.replace(
              'local want = tonumber(ARGV[4])',
              '-- 2.0.0: one unit at a time\nlocal want = math.min(1, tonumber(ARGV[4]))',
            ),
          },
    )
    expect(patched.find((s) => s.name === 'gcraGrant')!.lua).toContain('2.0.0: one unit')
    const sources = {
      '1.0.0': loadScripts('1.0.0'),
      '2.0.0': patched,
    } as const
    const v1 = await new RedisStore({ fleet, url: redis.url, version: '1.0.0' }).connect()
    const v2 = await new RedisStore({
      fleet,
      url: redis.url,
      version: '2.0.0',
      scripts: patched,
    }).connect()
    opened.push(v1, v2)

    // (a) Disjoint names, each carrying its own version.
    const names1 = Object.keys(registered(v1)).filter((n) => n.startsWith('slew_'))
    const names2 = Object.keys(registered(v2)).filter((n) => n.startsWith('slew_'))
    expect(names1).toHaveLength(sources['1.0.0'].length)
    expect(names2).toHaveLength(sources['2.0.0'].length)
    for (const n of names1) expect(n).toMatch(/^slew_1_0_0_[A-Za-z]+$/)
    for (const n of names2) expect(n).toMatch(/^slew_2_0_0_[A-Za-z]+$/)
    expect(names1.filter((n) => names2.includes(n))).toEqual([])

    // (b) Each command is that version's source: the SHA ioredis sends is sha1 of it.
    const shas = (version: keyof typeof sources) =>
      Object.fromEntries(sources[version].map((s) => [s.name, sha1(s.lua)]))
    const sha = { '1.0.0': shas('1.0.0'), '2.0.0': shas('2.0.0') }
    for (const [store, version] of [
      [v1, '1.0.0'],
      [v2, '2.0.0'],
    ] as const) {
      for (const s of sources[version])
        expect(registered(store)[commandName(version, s.name)]?.sha, s.name).toBe(
          sha[version][s.name],
        )
    }
    const all1 = Object.values(sha['1.0.0'])
    const all2 = Object.values(sha['2.0.0'])
    // The version is stamped into every script's text: not one SHA in common.
    expect(all1.filter((x) => all2.includes(x))).toEqual([])

    // What each connection makes the server run, seen by MONITOR on this test's own Redis.
    const admin = new Redis(redis.url)
    const monitor = await admin.monitor()
    const ran = new Map<string, Set<string>>()
    const marks = new Set<string>()
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const cmd = args[0]?.toLowerCase()
      const hash =
        cmd === 'evalsha' ? args[1] : cmd === 'eval' ? sha1(unrepr(args[1] ?? '')) : undefined
      if (hash) ran.set(source, (ran.get(source) ?? new Set()).add(hash))
      if (cmd === 'echo') marks.add(args[1] ?? '')
    })
    const control = new Redis(redis.url)
    const seen = async () => {
      // MONITOR reports in execution order: once it shows this mark, it has shown everything before.
      const mark = `mark-${Math.random()}`
      await control.echo(mark)
      while (!marks.has(mark)) await new Promise((r) => setTimeout(r, 10))
      const got = new Map(ran)
      ran.clear()
      return got
    }
    const addr = async (s: RedisStore) =>
      /addr=(\S+)/.exec(await (s.client as Redis).client('INFO'))![1]!
    const [addr1, addr2] = [await addr(v1), await addr(v2)]

    // Every script of each version, on the same fleet's keys.
    let run = 0
    let seq = 0
    const exercise = async (s: RedisStore) => {
      run++
      const p = { ratePerSec: 10, burst: 10 }
      expect((await s.take(`take-${run}`, p, 1, 1000)).ok).toBe(true)
      const { granted } = await s.grant(`grant-${run}`, p, 5, 1000)
      expect((await s.grantShare(`share-${run}`, 'c1', p, 2, 1000)).granted).toBe(2)
      const fence = await s.acquireLeader(s.version, 10_000, 1000)
      expect(fence).toBeGreaterThan(0)
      expect(await s.renewLeader(s.version, fence, 10_000, 1001)).toBe(true)
      await s.commit(fence, [{ op: 'log', seq: ++seq, to: [], message: s.version }], 100)
      expect(await s.releaseLeader(s.version, fence)).toBe(true)
      expect(await s.dropPresence(`client-${run}`, 'not what is there')).toBe(false)
      return granted
    }
    const check = async () => {
      // (c) Each its own behaviour...
      expect(await exercise(v1)).toBe(5)
      expect(await exercise(v2)).toBe(1)
      // ...and each connection ran its own version's scripts, all of them, and nothing else.
      const got = await seen()
      expect([...(got.get(addr1) ?? [])].sort()).toEqual([...all1].sort())
      expect([...(got.get(addr2) ?? [])].sort()).toEqual([...all2].sort())
    }
    try {
      await check()
      expect(await control.script('EXISTS', ...all1, ...all2)).toEqual(
        [...all1, ...all2].map(() => 1),
      )
      // The server forgets every script: both stores load their own again, by body.
      await control.script('FLUSH')
      expect(await control.script('EXISTS', ...all1, ...all2)).toEqual(
        [...all1, ...all2].map(() => 0),
      )
      await check()
      expect(await control.script('EXISTS', ...all1, ...all2)).toEqual(
        [...all1, ...all2].map(() => 1),
      )
    } finally {
      monitor.disconnect()
      admin.disconnect()
      control.disconnect()
    }
  })
})

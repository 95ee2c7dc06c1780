/**
 * Three coordinator processes on one Redis, clients spread across them. The
 * leader is killed (SIGKILL) mid-rollout: another replica takes over within
 * the lease (checked from the lease's terms recorded in Redis, not from how
 * long the test waited), the rollout completes, B1 holds over the whole
 * timeline (checked from the delivery log in Redis), and every client applies
 * the change exactly once. A push made right after the kill (while the
 * killed replica's clients come back and the lease is still the dead
 * leader's) reaches every client exactly once too, and the caches serve its
 * data.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { type Change, createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { RedisStore } from '../../src/store/redis.js'
import { post, waitFor } from '../helpers/coordinator.js'
import { type RedisServer, scanAll, startRedis } from '../helpers/redis.js'
import { roleOf, serveReplica } from '../helpers/replicas.js'
import { overB1 } from '../property/check.js'

const FLEET = 'ha'
const RATE = 150
const BURST = 20
const LEASE_MS = 900
/** A replica's lease tick (src/coordinator/replica/replica.ts): leaders renew, followers try to take over. */
const TICK_MS = LEASE_MS / 3
/**
 * What a takeover may add to lease + one tick, beyond construction: the
 * follower's tick is re-armed only after its own round trips to Redis (four),
 * and its timer may fire late on a loaded machine (two shared cores, four
 * Node processes, sixty clients reconnecting).
 */
const SCHEDULING_SLACK_MS = 600
/**
 * How much earlier a replica may read its clock than its lease command runs in
 * Redis (the reading is taken just before the command is written).
 */
const SEND_SLACK_MS = 200

describe('several coordinators on one Redis', () => {
  let redis: RedisServer
  const procs: ChildProcess[] = []
  let fleet: SlewClient<string>[] = []
  let store: RedisStore | undefined
  afterAll(async () => {
    await Promise.all(fleet.map((c) => c.close()))
    await store?.close()
    for (const p of procs) p.kill('SIGKILL')
    await redis?.stop()
  })

  it('survives the leader’s SIGKILL mid-rollout: completes, B1 holds, exactly once', {
    timeout: 90_000,
  }, async () => {
    redis = await startRedis()
    const dir = mkdtempSync(join(tmpdir(), 'slew-ha-'))
    writeFileSync(
      join(dir, 'slew.config.yaml'),
      [
        `fleet: ${FLEET}`,
        `budgets: { invalidate: { ratePerSec: ${RATE}, burst: ${BURST} } }`,
        // Each wave bakes a second: the leader is killed in the first bake, whenever it starts.
        'waves: { steps: [0.2, 0.6, 1], bakeMs: 1000 }',
        `replication: { leaseMs: ${LEASE_MS} }`,
        'confirmAbove: 1',
      ].join('\n'),
    )
    const replicas = [
      await serveReplica(dir, redis.url),
      await serveReplica(dir, redis.url),
      await serveReplica(dir, redis.url),
    ]
    procs.push(...replicas.map((r) => r.p))
    await waitFor('a leader', async () =>
      (await Promise.all(replicas.map((r) => roleOf(r.url)))).includes('leader'),
    )
    const leaderIndex = (await Promise.all(replicas.map((r) => roleOf(r.url)))).indexOf('leader')
    const leader = replicas[leaderIndex]!
    store = await new RedisStore({ fleet: FLEET, url: redis.url }).connect()

    const seen = new Map<string, string[]>()
    let version = 1
    fleet = Array.from({ length: 60 }, (_, i) => {
      const c = createClient<string>({
        url: replicas[i % 3]!.url,
        clientId: `app-${i}`,
        fleet: FLEET,
        signingKeys: devSigningKeys,
        load: async (k) => `${k}@v${version}`,
        heartbeatMs: 60_000,
        reconnect: { baseMs: 50, capMs: 300 },
      })
      seen.set(`app-${i}`, [])
      c.on('change', (ch: Change) => seen.get(`app-${i}`)!.push(ch.id))
      return c
    })
    await Promise.all(fleet.map((c) => c.start()))
    for (const c of fleet) await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => c.get(k)))
    await Promise.all(fleet.map((c) => c.heartbeat()))
    await new Promise((r) => setTimeout(r, 500))

    // Pushed through a follower: it forwards to the leader.
    const follower = replicas[(leaderIndex + 1) % 3]!
    const pushed = await post(`${follower.url}/v1/changes`, {
      kind: 'invalidate',
      target: { all: true },
      reason: 'failover test',
    })
    expect(pushed.status).toBe(202)
    const { id } = (await pushed.json()) as { id: string }

    // Mid-rollout (the first wave out, baking): kill the leader, bring a replica back on its
    // port (its clients reconnect there).
    let before = { state: '', delivered: 0 }
    await waitFor(
      'the first wave',
      async () => {
        before = (await (await fetch(`${follower.url}/v1/changes/${id}`)).json()) as typeof before
        return before.delivered > 0
      },
      20_000,
      20,
    )
    expect(before.state).toBe('rolling')
    expect(before.delivered).toBeGreaterThan(0)
    expect(before.delivered).toBeLessThan(60)
    // Who holds the lease as it is killed: the replica that answers "leader".
    const killed = (await store.leader())!
    expect(leader.log()).toContain(`replica ${killed.replica} leads (fence ${killed.fence})`)
    leader.p.kill('SIGKILL')
    const port = Number(new URL(leader.url).port)
    const back = await serveReplica(dir, redis.url, port)
    procs.push(back.p)
    // A push after the kill, as soon as a replica takes it (503 until a new leader leads).
    version = 2
    let id2 = ''
    await waitFor(
      'a push after the kill to be taken',
      async () => {
        const r = await post(`${follower.url}/v1/changes`, {
          kind: 'invalidate',
          // Another target than the rollout in flight (the same one would coalesce with it).
          target: { keys: ['a', 'b', 'c', 'd', 'e'] },
          reason: 'after the kill',
        }).catch(() => undefined)
        if (r?.status !== 202) return false
        id2 = ((await r.json()) as { id: string }).id
        return true
      },
      30_000,
      100,
    )

    await waitFor(
      'the rollout to complete under a new leader',
      async () => {
        const r = await fetch(`${follower.url}/v1/changes/${id}`).catch(() => undefined)
        return r?.ok === true && ((await r.json()) as { state: string }).state === 'completed'
      },
      60_000,
      100,
    )
    await waitFor(
      'the push after the kill to complete',
      async () => {
        const r = await fetch(`${follower.url}/v1/changes/${id2}`).catch(() => undefined)
        return r?.ok === true && ((await r.json()) as { state: string }).state === 'completed'
      },
      60_000,
      100,
    )
    await waitFor(
      'every client to have both changes',
      () => [...seen.values()].every((s) => s.length >= 2),
      30_000,
    ).catch(() => {})
    await new Promise((r) => setTimeout(r, 500))
    const missed = [...seen].filter(([, s]) => !s.includes(id2)).map(([c]) => c)
    expect(missed, 'clients the push after the kill never reached').toEqual([])
    // Each once (in either order: both roll at once).
    for (const [client, got] of seen) expect([...got].sort(), client).toEqual([id, id2].sort())
    await Promise.all(fleet.map((c) => c.idle()))
    for (const c of fleet) {
      for (const k of ['a', 'b', 'c', 'd', 'e'])
        expect(await c.get(k), c.options.clientId).toBe(`${k}@v2`)
      expect(c.stats().rejected, c.options.clientId).toEqual({})
    }

    // Failover within the lease, from the terms the lease recorded (each replica's clock).
    // The killed term ends at its last renewal R + the lease; no one can take the lease
    // before (SET NX PX), and every follower tries once a tick, so the next term starts
    // at A with LEASE_MS - send slack <= A - R <= LEASE_MS + TICK_MS + scheduling slack.
    const terms = await store.leaseTerms()
    const old = terms.find((t) => t.fence === killed.fence)
    const next = terms.find((t) => t.fence === killed.fence + 1)
    expect(old?.replica, 'the killed term').toBe(killed.replica)
    expect(next?.replica, 'the term after it').toBeDefined()
    expect(next!.replica).not.toBe(killed.replica)
    const gap = next!.acquiredAt - old!.renewedAt
    expect(gap).toBeGreaterThanOrEqual(LEASE_MS - SEND_SLACK_MS)
    expect(gap).toBeLessThanOrEqual(LEASE_MS + TICK_MS + SCHEDULING_SLACK_MS)

    // B1 over the whole timeline, from the delivery log in Redis.
    const log = await store.read(0, 10_000)
    const deliveries = log.map(
      (r) => JSON.parse(r.meta!) as { at: number; cost: number; changeId: string },
    )
    for (const change of [id, id2]) {
      const delivered = new Map<string, number>()
      for (const [i, r] of log.entries())
        if (deliveries[i]!.changeId === change)
          for (const c of r.to) delivered.set(c, (delivered.get(c) ?? 0) + 1)
      expect(delivered.size, change).toBe(60)
      expect([...delivered.values()].every((n) => n === 1)).toBe(true)
    }
    const times = deliveries.map((d) => [d.at, d.cost] as const)
    expect(overB1(times, RATE, BURST), 'a window over B1').toBeUndefined()
    // A new replica took over.
    expect(replicas.map((r) => r.log()).join('') + back.log()).toMatch(/leads \(fence [2-9]/)

    // Everything the replicas wrote to Redis (this test's own server) is under the fleet's hash tag.
    const admin = new Redis(redis.url)
    const keys = await scanAll(admin)
    admin.disconnect()
    expect(keys.length).toBeGreaterThan(0)
    expect(keys.filter((k) => !k.startsWith(`{slew:${FLEET}}:`))).toEqual([])
  })
})

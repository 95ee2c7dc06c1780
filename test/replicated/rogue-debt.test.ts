/**
 * One rogue client on Redis (issue 12, item 1): a client that says its cache
 * holds a billion entries gets a tag invalidation; the leader is SIGKILLed;
 * then every replica is restarted over a store whose invalidate bucket is
 * 1.8e16 ms in debt, as the reporter's was (and as a store written before
 * deliveries were capped at the burst still is). Each time, a one-key push to
 * an ordinary client goes out within its budgeted time (one burst of debt at
 * most, then 1 ÷ rate), and no replica warns of a timer overflow.
 *
 * Before the fix (443d3ba): the tag delivery cost 1e9 units, the debt (2e9 ms)
 * was committed to the store, and after the kill the one-key push stayed
 * `rolling`, delivered 0; over the poisoned store likewise, with the pacer
 * waking every millisecond (TimeoutOverflowWarning).
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { STATE } from '../../src/coordinator/replica/restore.js'
import { fleetKeys } from '../../src/store/keys.js'
import { openStream, post, waitFor } from '../helpers/coordinator.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'
import { roleOf, serveReplica } from '../helpers/replicas.js'

const FLEET = 'rogue'
const RATE = 500
const BURST = 500
/** Budgeted: at most one burst of debt, then one unit at the rate; plus a commit and a failover tick. */
const BUDGETED_MS = ((BURST + 1) / RATE) * 1000 + 1500

type Replica = Awaited<ReturnType<typeof serveReplica>>

describe('a rogue client on Redis', () => {
  let redis: RedisServer
  const procs: ChildProcess[] = []
  const streams: { close(): Promise<void> }[] = []
  let raw: Redis | undefined
  afterAll(async () => {
    for (const s of streams) await s.close()
    raw?.disconnect()
    for (const p of procs) p.kill('SIGKILL')
    await redis?.stop()
  })

  const leaderOf = async (replicas: readonly Replica[]) => {
    let found: Replica | undefined
    await waitFor('a leader', async () => {
      const roles = await Promise.all(replicas.map((r) => roleOf(r.url).catch(() => '')))
      found = replicas[roles.indexOf('leader')]
      return found !== undefined
    })
    return found!
  }

  /** A one-key push to a fresh ordinary client, through `via`; ms until it arrived. */
  const probe = async (via: Replica, name: string) => {
    const app = await openStream(via.url, name, { query: `&entries=1&fleet=${FLEET}` })
    streams.push(app)
    expect(app.status).toBe(200)
    await waitFor('the hello', () => app.of('hello').length === 1)
    const at = Date.now()
    const res = await post(`${via.url}/v1/changes`, {
      kind: 'invalidate',
      target: { keys: [`k-${name}`] },
    })
    expect(res.status).toBe(202)
    await waitFor(
      `the one-key push to reach ${name}`,
      () => app.of('change').length === 1,
      BUDGETED_MS + 5000,
    )
    return Date.now() - at
  }

  it('keeps a later one-key push within its budget after a leader kill and over a poisoned store', {
    timeout: 120_000,
  }, async () => {
    redis = await startRedis()
    const dir = mkdtempSync(join(tmpdir(), 'slew-rogue-'))
    writeFileSync(
      join(dir, 'slew.config.yaml'),
      [
        `fleet: ${FLEET}`,
        `budgets: { invalidate: { ratePerSec: ${RATE}, burst: ${BURST} } }`,
        'waves: { steps: [1], bakeMs: 0 }',
        'replication: { leaseMs: 900 }',
        'confirmAbove: 1',
      ].join('\n'),
    )
    const start = async () => {
      const r = await serveReplica(dir, redis.url)
      procs.push(r.p)
      return r
    }
    const first = [await start(), await start()]
    const leader = await leaderOf(first)
    const other = first.find((r) => r !== leader)!

    // The rogue client, on the follower: the largest cache the coordinator accepts.
    const rogue = await openStream(other.url, 'rogue', {
      query: `&entries=1000000000&fleet=${FLEET}`,
    })
    streams.push(rogue)
    expect(rogue.status).toBe(200)
    await waitFor('the rogue client in the fleet', async () => {
      const f = (await (await fetch(`${leader.url}/v1/fleet`)).json()) as { connected: number }
      return f.connected === 1
    })
    const tagged = await post(`${leader.url}/v1/changes`, {
      kind: 'invalidate',
      target: { tags: ['catalog'] },
    })
    const { id: taggedId } = (await tagged.json()) as { id: string }
    await waitFor('the tag push to reach the rogue client', () => rogue.of('change').length === 1)
    await rogue.close()

    // The leader dies with whatever debt it committed; the follower takes over.
    leader.p.kill('SIGKILL')
    expect(await leaderOf([other])).toBe(other)
    const afterKill = await probe(other, 'app-after-kill')
    expect(afterKill).toBeLessThan(BUDGETED_MS)
    const view = (await (await fetch(`${other.url}/v1/changes/${taggedId}`)).json()) as {
      deliveredCost: number
    }
    // Before: 1e9.
    expect(view.deliveredCost).toBe(BURST)

    // Every replica restarted, over a store in 1.8e16 ms of debt (as the old code left it).
    other.p.kill('SIGKILL')
    raw = new Redis(redis.url)
    const key = fleetKeys(FLEET).state
    const head = JSON.parse((await raw.hget(key, STATE.head))!) as {
      buckets: Record<string, { delivery: number | null; wakeAt: number | null }>
    }
    head.buckets.invalidate = { ...head.buckets.invalidate!, delivery: Date.now() + 1.8e16 }
    head.buckets.invalidate.wakeAt = Date.now() + 1.8e16
    await raw.hset(key, STATE.head, JSON.stringify(head))
    const second = [await start(), await start()]
    const next = await leaderOf(second)
    const overPoison = await probe(next, 'app-over-poison')
    expect(overPoison).toBeLessThan(BUDGETED_MS)
    for (const r of [...first, ...second])
      expect(r.log(), 'a replica warned of a timer overflow').not.toMatch(/TimeoutOverflowWarning/)
  })
})

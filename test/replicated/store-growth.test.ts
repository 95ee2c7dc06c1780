/**
 * A client token cannot grow Redis without bound (issue 12, item 6). Acting
 * only as its own client id, a rogue floods the follower of two coordinators
 * on a private Redis: 300 heartbeats each carrying 100 rewarm checkpoints of
 * change ids that do not exist (30,000), as many reads of made-up
 * checkpoints, and 12,000 of the largest heartbeats the schema takes (100
 * business metrics with 100-character names, ~11 KB each). Redis keeps no
 * checkpoint of a made-up change, the replicas' events stream stays within
 * its cap and carries only what the leader reads of a heartbeat, and
 * used_memory grows by a few MB. A real rewarm's checkpoint from the client
 * it was sent to is kept, through the follower (the store's delivered set)
 * and the leader (its engine); from a client it was not sent to, it is not.
 *
 * Before the fix (one coordinator): 30,001 checkpoint hashes (30,000 made
 * up, each with a 7-day expiry; keys 12 → 30,012), the rogue's checkpoint
 * of the real rewarm kept too, and the events stream held every heartbeat
 * whole: 12,303 entries, 152.4 MB, used_memory +154.9 MB. After: 1 hash
 * (the real one), keys 12 → 12, 10,015 entries, 2.3 MB, +2.1 MB.
 */
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import type { Coordinator } from '../../src/coordinator/coordinator.js'
import { fleetKeys } from '../../src/store/keys.js'
import { openStream, post, startCoordinator, waitFor } from '../helpers/coordinator.js'
import { type RedisServer, scanAll, startRedis } from '../helpers/redis.js'

const FLEET = 'growth'
const ROGUE = 'rogue-token-0123456789'
const APP = 'app-token-0123456789'
const PUSH = 'push-token-0123456789'

const usedMemory = async (r: Redis) => Number(/used_memory:(\d+)/.exec(await r.info('memory'))![1])

/** Run `n` requests, `concurrency` at a time. */
const flood = async (n: number, concurrency: number, send: (i: number) => Promise<unknown>) => {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await send(next++)
    }),
  )
}

describe('a client flooding the store', () => {
  let redis: RedisServer
  const cos: Coordinator[] = []
  let raw: Redis | undefined
  const closers: (() => Promise<void>)[] = []
  afterAll(async () => {
    for (const c of closers) await c()
    raw?.disconnect()
    for (const co of cos) await co.close()
    await redis?.stop()
  })

  it('leaves Redis bounded: no checkpoint of a made-up change, a capped events stream', {
    timeout: 180_000,
  }, async () => {
    redis = await startRedis()
    raw = new Redis(redis.url)
    const keys = fleetKeys(FLEET)
    const urls: string[] = []
    for (let i = 0; i < 2; i++) {
      const started = await startCoordinator({
        fleet: FLEET,
        store: { kind: 'redis', url: redis.url },
        waves: { steps: [1], bakeMs: 0 },
        confirmAbove: 1,
        auth: {
          tokens: [
            { name: 'rogue', scopes: ['client'], clientIds: ['rogue'], secret: ROGUE },
            { name: 'app', scopes: ['client'], clientIds: ['app'], secret: APP },
            { name: 'push', scopes: ['push', 'read'], secret: PUSH },
          ],
        },
      })
      cos.push(started.co)
      urls.push(started.url)
    }
    const roleOf = async (u: string) =>
      ((await (await fetch(`${u}/readyz`)).json()) as { role?: string }).role
    await waitFor('a leader', async () => (await Promise.all(urls.map(roleOf))).includes('leader'))
    const roles = await Promise.all(urls.map(roleOf))
    const leader = cos[roles.indexOf('leader')]!
    const leaderUrl = urls[roles.indexOf('leader')]!
    // The client, and the rogue, on the follower: it asks the store's delivered sets.
    const url = urls[1 - roles.indexOf('leader')]!
    const as = (token: string) => ({ authorization: `Bearer ${token}` })
    const heartbeat = async (id: string, token: string, body: unknown, to = url) => {
      const res = await post(`${to}/v1/clients/${id}/heartbeat`, body, as(token))
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    }

    // A real rewarm, sent to `app`: its checkpoint is kept, another client's is not.
    const app = await openStream(url, 'app', {
      headers: as(APP),
      query: `&fleet=${FLEET}&entries=10`,
    })
    closers.push(() => app.close())
    expect(app.status).toBe(200)
    await waitFor('the leader to know app', () => leader.engine.client('app') !== undefined)
    const pushed = await fetch(`${leaderUrl}/v1/changes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...as(PUSH) },
      body: JSON.stringify({ kind: 'rewarm', target: { keys: ['a', 'b', 'c'] } }),
    })
    expect(pushed.status).toBe(202)
    const { id: rewarmId } = (await pushed.json()) as { id: string }
    await waitFor('the rewarm to reach app', () => app.of('change').length === 1)
    const report = { done: 1, total: 3, cursor: 1 }
    await heartbeat('app', APP, { rewarm: { [rewarmId]: report } })
    await heartbeat('rogue', ROGUE, { rewarm: { [rewarmId]: report } })
    // The leader answers from its engine, alike.
    await heartbeat('rogue', ROGUE, { rewarm: { [rewarmId]: report } }, leaderUrl)
    await heartbeat('app', APP, { rewarm: { [rewarmId]: report } }, leaderUrl)
    const kept = await raw.hkeys(keys.rewarm(rewarmId))

    const before = { memory: await usedMemory(raw), keys: await raw.dbsize() }

    // 300 heartbeats × 100 checkpoints of made-up changes, and as many reads of them.
    await flood(300, 8, (i) =>
      heartbeat('rogue', ROGUE, {
        rewarm: Object.fromEntries(
          Array.from({ length: 100 }, (_, j) => [`chg-made-up-${i}-${j}`, report]),
        ),
      }),
    )
    await flood(300, 8, async (i) => {
      const res = await fetch(`${url}/v1/clients/rogue/rewarm/chg-made-up-${i}-0`, {
        headers: as(ROGUE),
      })
      await res.arrayBuffer()
    })
    const checkpoints = (await scanAll(raw)).filter((k) => k.startsWith(keys.rewarm(''))).length

    // 12,000 of the largest heartbeats the schema takes.
    const metrics = Object.fromEntries(
      Array.from({ length: 100 }, (_, j) => [`${String(j).padStart(3, '0')}${'m'.repeat(97)}`, j]),
    )
    const big = { entries: 10, ackedSeq: 0, configDigest: 'd'.repeat(64), metrics }
    expect(JSON.stringify(big).length).toBeGreaterThan(10_000)
    await flood(12_000, 8, () => heartbeat('rogue', ROGUE, big))

    const after = {
      memory: await usedMemory(raw),
      keys: await raw.dbsize(),
      events: await raw.xlen(keys.events),
      eventsBytes: Number(await raw.memory('USAGE', keys.events, 'SAMPLES', 0)),
    }
    const grown = after.memory - before.memory
    console.log(
      `checkpoints of made-up changes: ${checkpoints}; keys ${before.keys} → ${after.keys}; ` +
        `events: ${after.events} entries, ${(after.eventsBytes / 1e6).toFixed(1)} MB; ` +
        `used_memory +${(grown / 1e6).toFixed(1)} MB`,
    )
    expect(kept).toEqual(['app'])
    expect(checkpoints).toBe(1)
    expect(after.keys - before.keys).toBeLessThanOrEqual(2)
    expect(after.events).toBeLessThanOrEqual(11_000)
    expect(after.eventsBytes).toBeLessThan(5e6)
    expect(grown).toBeLessThan(8e6)
    // What the leader reads of a heartbeat, and nothing else.
    const newest = await raw.xrevrange(keys.events, '+', '-', 'COUNT', 1)
    const last = newest[0]![1][1]
    const event = JSON.parse(last!) as { h: Record<string, unknown> }
    expect(event.h).toEqual({ entries: 10, ackedSeq: 0, configDigest: 'd'.repeat(64) })
  })
})

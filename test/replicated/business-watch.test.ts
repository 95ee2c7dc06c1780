/**
 * The business watch on Redis replicas (issue 15): points posted through a
 * follower reach the leader's watch, and its model's history is kept in
 * the store, so a new leader judges at once instead of learning the series
 * again (ten minutes blind) after the old one is killed. An incident open
 * when it dies stays open on the new leader (not a second one for the same
 * drop) and closes there once orders are back.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { STATE } from '../../src/coordinator/replica/restore.js'
import { RedisStore } from '../../src/store/redis.js'
import { post, waitFor } from '../helpers/coordinator.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'
import { leaderAndFollower, roleOf } from '../helpers/replicas.js'

const FLEET = 'watched'

interface Watching {
  watching: { metric: string; warmingUp?: string; expected?: number; last?: { at: number } }[]
  incidents: { id: string; closedAt?: number }[]
}

describe('the business watch on Redis replicas', () => {
  let redis: RedisServer
  let store: RedisStore | undefined
  const procs: ChildProcess[] = []
  afterAll(async () => {
    await store?.close()
    for (const p of procs) p.kill('SIGKILL')
    await redis?.stop()
  })

  it('keeps the model through a leader killed', { timeout: 90_000 }, async () => {
    redis = await startRedis()
    const dir = mkdtempSync(join(tmpdir(), 'slew-watch-redis-'))
    writeFileSync(
      join(dir, 'slew.config.yaml'),
      [
        `fleet: ${FLEET}`,
        'replication: { leaseMs: 900 }',
        'watch: [{ metric: orders, clearMs: 3000 }]',
      ].join('\n'),
    )
    const { replicas, leader, follower } = await leaderAndFollower(dir, redis.url)
    procs.push(...replicas.map((r) => r.p))
    const incidents = async (url: string) =>
      (await (await fetch(`${url}/v1/incidents`)).json()) as Watching
    const watching = async (url: string) => (await incidents(url)).watching[0]!
    expect((await watching(follower.url)).warmingUp).toMatch(/learning the series/)

    // Fifteen minutes of orders at about 100/s, the last 20 s at 40/s, posted through the follower.
    const second = Math.floor(Date.now() / 1000) * 1000
    const series = Array.from({ length: 920 }, (_, i) => ({
      name: 'orders',
      value: (i < 900 ? 100 : 40) + ((i * 7919) % 21) - 10,
      at: new Date(second - (950 - i) * 1000).toISOString(),
    }))
    const posted = await post(`${follower.url}/v1/metrics`, { series })
    expect(posted.status, await posted.clone().text()).toBe(202)
    await waitFor('the series judged', async () => {
      const w = await watching(follower.url)
      return w.warmingUp === undefined && w.last !== undefined
    })
    const before = await watching(follower.url)
    expect(before.expected).toBeGreaterThan(90)
    expect(before.expected).toBeLessThan(110)
    const [opened] = (await incidents(follower.url)).incidents
    expect(opened).toMatchObject({ id: 'inc-1' })
    expect(opened).not.toHaveProperty('closedAt')
    store = await new RedisStore({ fleet: FLEET, url: redis.url }).connect()
    await waitFor(
      'the history and the incident kept',
      async () =>
        (await store!.stateField(STATE.watch('orders'))) !== undefined &&
        (await store!.stateField(STATE.incidents)) !== undefined,
      20_000,
    )

    leader.p.kill('SIGKILL')
    await waitFor(
      'the follower to lead',
      async () => (await roleOf(follower.url)) === 'leader',
      20_000,
    )
    // The new leader judges at once, from the model the old one kept.
    const after = await watching(follower.url)
    expect(after.warmingUp).toBeUndefined()
    expect(after.last?.at).toBe(before.last?.at)
    expect(Math.abs(after.expected! - before.expected!)).toBeLessThan(5)
    // The incident goes on, open, and no second one opens for the same drop.
    const going = (await incidents(follower.url)).incidents
    expect(going).toHaveLength(1)
    const { attribution: _, ...same } = opened as typeof opened & { attribution?: unknown }
    expect(going[0]).toMatchObject(same)
    expect(going[0]).not.toHaveProperty('closedAt')

    // Orders are back: the new leader closes it, and keeps that too.
    const now = Date.now()
    const back = []
    for (let at = after.last!.at + 1000; at < now + 4000; at += 1000)
      back.push({ name: 'orders', value: 100, at: new Date(at).toISOString() })
    expect((await post(`${follower.url}/v1/metrics`, { series: back })).status).toBe(202)
    await waitFor(
      'the incident closed',
      async () => (await incidents(follower.url)).incidents[0]?.closedAt !== undefined,
      40_000,
    )
    expect((await incidents(follower.url)).incidents).toHaveLength(1)
    await waitFor('its closing kept', async () => {
      const kept = JSON.parse(
        (await store!.stateField(STATE.incidents)) ?? '[]',
      ) as Watching['incidents']
      return kept[0]?.closedAt !== undefined
    })
  })
})

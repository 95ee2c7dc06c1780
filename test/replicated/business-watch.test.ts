/**
 * The business watch on Redis replicas (issue 15): points posted through a
 * follower reach the leader's watch, and its model's history is kept in
 * the store, so a new leader judges at once instead of learning the series
 * again (ten minutes blind) after the old one is killed.
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
      [`fleet: ${FLEET}`, 'replication: { leaseMs: 900 }', 'watch: [{ metric: orders }]'].join(
        '\n',
      ),
    )
    const { replicas, leader, follower } = await leaderAndFollower(dir, redis.url)
    procs.push(...replicas.map((r) => r.p))
    const watching = async (url: string) =>
      ((await (await fetch(`${url}/v1/incidents`)).json()) as Watching).watching[0]!
    expect((await watching(follower.url)).warmingUp).toMatch(/learning the series/)

    // Fifteen minutes of orders at about 100/s, posted through the follower.
    const second = Math.floor(Date.now() / 1000) * 1000
    const series = Array.from({ length: 900 }, (_, i) => ({
      name: 'orders',
      value: 100 + ((i * 7919) % 21) - 10,
      at: new Date(second - (930 - i) * 1000).toISOString(),
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
    store = await new RedisStore({ fleet: FLEET, url: redis.url }).connect()
    await waitFor(
      'the history kept',
      async () => (await store!.stateField(STATE.watch('orders'))) !== undefined,
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
  })
})

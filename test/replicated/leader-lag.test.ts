/**
 * The replicas' events stream holds at most EVENTS_KEPT events (issue 12,
 * item 6): a client flooding heartbeats cannot grow it. A leader that lags
 * further behind than that loses events, a join among them; it notices the
 * stream was trimmed past what it read and reads who is connected from
 * presence again, so the client whose join was lost still gets what is
 * pushed. Here the leader is stopped (SIGSTOP) while a client connects to
 * the follower and 11,000 events are published after its join (the join
 * trimmed away), then resumed.
 *
 * With the cap but without that re-read, the push reached the client in no
 * run (the leader's engine never heard of it); with it, within a second.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fleetKeys } from '../../src/store/keys.js'
import { RedisStore } from '../../src/store/redis.js'
import { EVENTS_KEPT } from '../../src/store/store.js'
import { openStream, post, waitFor } from '../helpers/coordinator.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'
import { roleOf, serveReplica } from '../helpers/replicas.js'

const FLEET = 'lag'

describe('a leader that lags behind the events stream', () => {
  let redis: RedisServer
  let store: RedisStore | undefined
  const procs: ChildProcess[] = []
  const streams: { close(): Promise<void> }[] = []
  afterAll(async () => {
    for (const s of streams) await s.close()
    for (const p of procs) {
      p.kill('SIGCONT')
      p.kill('SIGKILL')
    }
    await store?.close()
    await redis?.stop()
  })

  it('reads who is connected again when the stream was trimmed past what it read', {
    timeout: 90_000,
  }, async () => {
    redis = await startRedis()
    const dir = mkdtempSync(join(tmpdir(), 'slew-lag-'))
    writeFileSync(
      join(dir, 'slew.config.yaml'),
      [
        `fleet: ${FLEET}`,
        'waves: { steps: [1], bakeMs: 0 }',
        'replication: { leaseMs: 10000 }',
        'confirmAbove: 1',
      ].join('\n'),
    )
    const replicas: Awaited<ReturnType<typeof serveReplica>>[] = []
    for (let i = 0; i < 2; i++) {
      const r = await serveReplica(dir, redis.url)
      procs.push(r.p)
      replicas.push(r)
    }
    let leader: Awaited<ReturnType<typeof serveReplica>> | undefined
    await waitFor('a leader', async () => {
      const roles = await Promise.all(replicas.map((r) => roleOf(r.url).catch(() => '')))
      leader = replicas[roles.indexOf('leader')]
      return leader !== undefined
    })
    const follower = replicas.find((r) => r !== leader)!
    store = await new RedisStore({ fleet: FLEET, url: redis.url }).connect()

    // The leader stops reading; a client connects meanwhile, and its join is trimmed away. (One
    // event first: the leader's pending XREAD BLOCK is answered with it, not with the join.)
    leader!.p.kill('SIGSTOP')
    const flood = JSON.stringify({ t: 'hb', c: 'rogue', h: {}, r: 'nobody' })
    await store.publish(flood)
    await new Promise((r) => setTimeout(r, 100))
    const late = await openStream(follower.url, 'late', { query: `&fleet=${FLEET}&entries=1` })
    streams.push(late)
    expect(late.status).toBe(200)
    const joinId = await (async () => {
      for (;;) {
        const rows = await store!.client.xrange(fleetKeys(FLEET).events, '-', '+')
        const row = rows.find(([, f]) => f[1]?.includes('"t":"join"') && f[1].includes('"late"'))
        if (row) return row[0]
        await new Promise((r) => setTimeout(r, 10))
      }
    })()
    await Promise.all(Array.from({ length: EVENTS_KEPT + 1000 }, () => store!.publish(flood)))
    const [first, lost] = [await store.firstEventId(), joinId].map((id) =>
      id.split('-').map(Number),
    )
    expect(first![0]! > lost![0]! || (first![0] === lost![0] && first![1]! > lost![1]!)).toBe(true)
    leader!.p.kill('SIGCONT')

    await waitFor('the leader to read who is connected again', () =>
      /trimmed past what the leader read/.test(leader!.log()),
    )
    const res = await post(`${leader!.url}/v1/changes`, {
      kind: 'invalidate',
      target: { keys: ['k'] },
    })
    expect(res.status).toBe(202)
    await waitFor(
      'the push to reach the client whose join was lost',
      () => late.of('change').length === 1,
      10_000,
    )
    expect(await roleOf(leader!.url)).toBe('leader')
  })
})

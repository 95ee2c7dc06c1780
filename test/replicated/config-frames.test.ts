/**
 * A new client's config frame on Redis (issue 12, item 4): the leader keeps
 * the stable config's digest beside the head, once per version; a replica
 * reads and parses the head's values again only when the digest changes,
 * and signs a new client's config frame once per version; a new leader
 * hands out the same values.
 *
 * Before the fix (443d3ba): each new client cost its replica a read and
 * parse of the whole head (1.8 MB here) and a signature of its own.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { STATE } from '../../src/coordinator/replica/restore.js'
import { configDigest } from '../../src/protocol/messages.js'
import { fleetKeys } from '../../src/store/keys.js'
import { metricValue, openStream, post, scrape, waitFor } from '../helpers/coordinator.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'
import { roleOf, serveReplica } from '../helpers/replicas.js'

const FLEET = 'cfg'
const VALUE = `v1:${'x'.repeat(900 * 1024)}`

type Replica = Awaited<ReturnType<typeof serveReplica>>

describe('config frames on Redis', () => {
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

  it('signs once per version, and a new leader hands out the same values', {
    timeout: 90_000,
  }, async () => {
    redis = await startRedis()
    const dir = mkdtempSync(join(tmpdir(), 'slew-cfg-'))
    writeFileSync(
      join(dir, 'slew.config.yaml'),
      [
        `fleet: ${FLEET}`,
        'waves: { steps: [1], bakeMs: 0 }',
        'replication: { leaseMs: 900 }',
        'confirmAbove: 1',
      ].join('\n'),
    )
    const replicas: Replica[] = []
    for (let i = 0; i < 2; i++) {
      const r = await serveReplica(dir, redis.url)
      procs.push(r.p)
      replicas.push(r)
    }
    let leader: Replica | undefined
    await waitFor('a leader', async () => {
      const roles = await Promise.all(replicas.map((r) => roleOf(r.url).catch(() => '')))
      leader = replicas[roles.indexOf('leader')]
      return leader !== undefined
    })
    const follower = replicas.find((r) => r !== leader)!
    const pushed = await post(`${leader!.url}/v1/changes`, {
      kind: 'config',
      values: { big: VALUE },
    })
    expect(pushed.status).toBe(202)
    const { id } = (await pushed.json()) as { id: string }
    await waitFor('the config change to complete', async () => {
      const r = (await (await fetch(`${leader!.url}/v1/changes/${id}`)).json()) as {
        state: string
      }
      return r.state === 'completed'
    })

    raw = new Redis(redis.url)
    const key = fleetKeys(FLEET).state
    // Beside the head, the digest of the stable values: what replicas compare before re-reading.
    await waitFor('the stable config digest', async () => {
      const head = JSON.parse((await raw!.hget(key, STATE.head)) ?? '{}') as {
        stableConfigValues?: Record<string, unknown>
      }
      return (
        head.stableConfigValues?.big === VALUE &&
        (await raw!.hget(key, STATE.stableDigest)) === configDigest(head.stableConfigValues)
      )
    })

    const signed = async () =>
      metricValue(await scrape(follower.url), 'slew_events_signed_total') ?? 0
    const before = await signed()
    for (let i = 0; i < 4; i++) {
      const s = await openStream(follower.url, `new-${i}`, { query: `&fleet=${FLEET}` })
      streams.push(s)
      await waitFor('the config frame', () => s.of('config').length === 1)
      expect((JSON.parse(s.of('config')[0]!.data) as { values: { big: string } }).values.big).toBe(
        VALUE,
      )
    }
    // Four hellos and one config frame (before: four of each).
    expect((await signed()) - before).toBe(5)

    // The leader dies: the follower leads, from the values in their own field.
    leader!.p.kill('SIGKILL')
    await waitFor('the follower to lead', async () => (await roleOf(follower.url)) === 'leader')
    const s = await openStream(follower.url, 'after-failover', { query: `&fleet=${FLEET}` })
    streams.push(s)
    await waitFor('the config frame', () => s.of('config').length === 1)
    expect((JSON.parse(s.of('config')[0]!.data) as { values: { big: string } }).values.big).toBe(
      VALUE,
    )
    const fleet = (await (await fetch(`${follower.url}/v1/fleet`)).json()) as {
      configSplit: string[]
    }
    expect(fleet.configSplit).toEqual([])
  })
})

/**
 * Guarded rollouts on Redis replicas (issue 14): the leader runs the gates
 * on every replica's heartbeats, a follower asks the clients the gates
 * compare to heartbeat faster, a config change that hurts is rolled back,
 * and a gate goes on through a leader killed mid-bake: its evidence from
 * before the kill is still there, and the change completes.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { shardOf } from '../../src/invalidation/shard.js'
import { createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { post, waitFor } from '../helpers/coordinator.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'
import { leaderAndFollower, roleOf, serveReplica } from '../helpers/replicas.js'

const FLEET = 'gated'
const CLIENTS = 40
const GATE_HEARTBEAT_MS = 300

interface Rollout {
  state: string
  waves: { shards: [number, number]; delivered: number }[]
  gate?: {
    mode: string
    verdict: string
    action?: { kind: string; reason: string }
    checks: { treated: { samples: number } }[]
    history: { verdict: string; at: number }[]
  }
}

describe('gates on Redis replicas', () => {
  let redis: RedisServer
  const procs: ChildProcess[] = []
  const clients: SlewClient<string>[] = []
  const timers: NodeJS.Timeout[] = []
  afterAll(async () => {
    for (const t of timers) clearInterval(t)
    await Promise.all(clients.map((c) => c.close()))
    for (const p of procs) p.kill('SIGKILL')
    await redis?.stop()
  })

  it('roll back a change that hurts, pace from a follower, and go on through a failover', {
    timeout: 150_000,
  }, async () => {
    redis = await startRedis()
    const dir = mkdtempSync(join(tmpdir(), 'slew-gates-redis-'))
    writeFileSync(
      join(dir, 'slew.config.yaml'),
      [
        `fleet: ${FLEET}`,
        'waves: { steps: [0.2, 0.6, 1], bakeMs: 1500 }',
        'replication: { leaseMs: 900 }',
        'confirmAbove: 1',
        // No `enabled`: gates are on by default.
        `gates: { heartbeatMs: ${GATE_HEARTBEAT_MS}, minSamples: 15, watchAfterMs: 0, checks: [{ metric: errorRate, worse: higher, minEffect: 0.03 }] }`,
      ].join('\n'),
    )
    const { replicas, leader, follower } = await leaderAndFollower(dir, redis.url)
    procs.push(...replicas.map((r) => r.p))

    // 40 app servers, half on each replica: origin calls fail at 2 %, at 10 % with feature=bad.
    let n = 0
    for (let i = 0; i < CLIENTS; i++) {
      const client = createClient<string>({
        url: replicas[i % 2]!.url,
        clientId: `app-${i}`,
        fleet: FLEET,
        signingKeys: devSigningKeys,
        heartbeatMs: 5_000,
        reconnect: { baseMs: 50, capMs: 300 },
        load: async (key) => {
          const rate = client.config.get('feature') === 'bad' ? 0.1 : 0.02
          if (Math.random() < rate) throw new Error('origin failed')
          return key
        },
      })
      clients.push(client)
      await client.start()
      timers.push(setInterval(() => client.get(`k${n++}`).catch(() => {}), 20))
    }
    const push = async (values: Record<string, unknown>) => {
      const res = await post(`${follower.url}/v1/changes`, { kind: 'config', reason: 't', values })
      expect(res.status).toBe(202)
      return ((await res.json()) as { id: string }).id
    }
    const rollout = async (id: string, at = follower.url) =>
      (await (await fetch(`${at}/v1/changes/${id}`)).json()) as Rollout
    await new Promise((r) => setTimeout(r, 2_000))

    // 1: the bad change, pushed through the follower, is judged by the leader and rolled back.
    const bad = await push({ feature: 'bad' })
    let seen = await rollout(bad)
    await waitFor('the first wave', async () => {
      seen = await rollout(bad)
      return (seen.waves[0]?.delivered ?? 0) > 0
    })
    // The follower asks a treated client of its own to heartbeat at the gate's pace, and a
    // client in a middle wave (never compared while the first wave bakes) to keep its own.
    const shards = seen.waves.at(-1)!.shards[1]
    const first = seen.waves[0]!.shards[1]
    const middle = seen.waves[1]!.shards
    const onFollower = clients
      .map((_, i) => `app-${i}`)
      .filter((_, i) => replicas[i % 2] === follower)
    const treated = onFollower.find((c) => shardOf(c, bad, shards) < first)
    const untouched = onFollower.find((c) => {
      const s = shardOf(c, bad, shards)
      return s >= middle[0] && s < middle[1]
    })
    const asked = async (clientId: string) => {
      const res = await post(`${follower.url}/v1/clients/${clientId}/heartbeat`, {})
      return ((await res.json()) as { heartbeatMs?: number }).heartbeatMs
    }
    if (treated) {
      await waitFor(
        'the follower to pace a treated client',
        async () => (await asked(treated)) === GATE_HEARTBEAT_MS,
      )
    }
    if (untouched) expect(await asked(untouched)).toBeUndefined()
    expect(treated ?? untouched).toBeDefined()

    await waitFor(
      'the gate to roll it back',
      async () => ['rolling_back', 'rolled_back'].includes((await rollout(bad)).state),
      60_000,
    )
    expect((await rollout(bad)).gate).toMatchObject({
      mode: 'cohort',
      verdict: 'fail',
      action: { kind: 'rollback' },
    })
    await waitFor('the rollback', async () => (await rollout(bad)).state === 'rolled_back', 30_000)
    await waitFor(
      'every client on the old value',
      () => clients.every((c) => c.config.get('feature') === undefined),
      10_000,
    )

    // 2: a harmless change; the leader is killed while its gate watches the first wave.
    const good = await push({ feature: 'good' })
    await waitFor('the gate to count samples', async () => {
      const g = (await rollout(good)).gate
      return (g?.checks[0]?.treated.samples ?? 0) >= 5
    })
    const before = (await rollout(good)).gate!
    const killedAt = Date.now()
    leader.p.kill('SIGKILL')
    const back = await serveReplica(dir, redis.url, Number(new URL(leader.url).port))
    procs.push(back.p)
    await waitFor(
      'a new leader',
      async () => (await Promise.all([follower.url, back.url].map(roleOf))).includes('leader'),
      20_000,
    )
    // The new leader's record of the gate is the old one, gone on with: its history starts
    // before the kill.
    const after = (await rollout(good, follower.url)).gate!
    expect(after.history[0]!.at).toBe(before.history[0]!.at)
    expect(after.history[0]!.at).toBeLessThan(killedAt)
    await waitFor(
      'the harmless change to complete',
      async () => (await rollout(good)).state === 'completed',
      60_000,
    )
    expect((await rollout(good)).gate?.action).toBeUndefined()
    expect(clients.every((c) => c.config.get('feature') === 'good')).toBe(true)

    // 3: a ramp paused stands still: every replica tells its clients so with the heartbeat answer.
    const ramp = await push({ rate: 100 })
    await waitFor('rate 100', async () => (await rollout(ramp)).state === 'completed', 60_000)
    const ramped = await push({ rate: { ramp: { to: 1000, stepPerMinute: 100 } } })
    expect((await post(`${follower.url}/v1/changes/${ramped}/pause`, {})).status).toBe(200)
    const held = async (at: string) => {
      const res = await post(`${at}/v1/clients/app-0/heartbeat`, {})
      return ((await res.json()) as { holdRamps?: string[] }).holdRamps
    }
    for (const at of [follower.url, back.url])
      await waitFor('the ramp held', async () => (await held(at))?.join() === 'rate')
    expect((await post(`${follower.url}/v1/changes/${ramped}/resume`, {})).status).toBe(200)
    for (const at of [follower.url, back.url])
      await waitFor('the ramp released', async () => (await held(at)) === undefined)
  })
})

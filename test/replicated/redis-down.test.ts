/**
 * Redis stops mid-rollout and comes back (with its append-only file): while
 * it is down, writes and leases answer 503 problem+json with Retry-After
 * (never a bypass of the budget), streams keep their clients and clients keep
 * serving; when it returns, the rollout resumes where it was and nothing is
 * lost: every client gets the change exactly once.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { Coordinator } from '../../src/coordinator/coordinator.js'
import { type Change, createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { post, startCoordinator, waitFor } from '../helpers/coordinator.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'

describe('Redis down and back', () => {
  let redis: RedisServer
  let co: Coordinator | undefined
  let fleet: SlewClient<string>[] = []
  afterAll(async () => {
    await Promise.all(fleet.map((c) => c.close()))
    await co?.close()
    await redis?.stop()
  })

  it('answers 503 while down, keeps serving, and resumes the rollout after', {
    timeout: 60_000,
  }, async () => {
    redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always'])
    const started = await startCoordinator({
      fleet: 'down',
      store: { kind: 'redis', url: redis.url },
      budgets: { invalidate: { ratePerSec: 20, burst: 2 } },
      waves: { steps: [1], bakeMs: 0 },
      replication: { leaseMs: 600 },
      confirmAbove: 1,
    })
    co = started.co
    const { url } = started
    await waitFor(
      'the coordinator to lead',
      async () =>
        ((await (await fetch(`${url}/readyz`)).json()) as { role: string }).role === 'leader',
    )
    const seen = new Map<string, string[]>()
    let loads = 0
    fleet = Array.from({ length: 30 }, (_, i) => {
      const c = createClient<string>({
        url,
        clientId: `app-${i}`,
        fleet: 'down',
        signingKeys: devSigningKeys,
        load: async (k) => `${k}#${++loads}`,
        heartbeatMs: 60_000,
      })
      seen.set(`app-${i}`, [])
      c.on('change', (ch: Change) => seen.get(`app-${i}`)!.push(ch.id))
      return c
    })
    await Promise.all(fleet.map((c) => c.start()))
    for (const c of fleet) await c.get('item')
    await new Promise((r) => setTimeout(r, 300))

    const pushed = await post(`${url}/v1/changes`, {
      kind: 'invalidate',
      target: { keys: ['item'] },
      reason: 'fault test',
    })
    expect(pushed.status).toBe(202)
    const { id } = (await pushed.json()) as { id: string }
    await waitFor('some deliveries', () => [...seen.values()].some((s) => s.length > 0))
    await redis.kill()

    // Down: writes and leases refused with Retry-After, streams and caches untouched.
    await waitFor(
      'the push API to refuse',
      async () =>
        (await post(`${url}/v1/changes`, { kind: 'invalidate', target: { keys: ['other'] } }))
          .status === 503,
    )
    const refused = await post(`${url}/v1/changes`, {
      kind: 'invalidate',
      target: { keys: ['other'] },
    })
    expect(refused.status).toBe(503)
    expect(refused.headers.get('content-type')).toMatch(/problem\+json/)
    expect(refused.headers.get('retry-after')).toBe('1')
    const lease = await post(`${url}/v1/leases`, { clientId: 'app-0', want: 5 })
    expect(lease.status).toBe(503)
    expect(((await lease.json()) as { code: string }).code).toBe('E_STORE_UNAVAILABLE')
    await new Promise((r) => setTimeout(r, 500))
    expect(fleet.every((c) => c.connected)).toBe(true)
    for (const c of fleet) expect(await c.get('item')).toMatch(/^item#/)
    const during = [...seen.values()].filter((s) => s.length > 0).length
    expect(during).toBeLessThan(30)

    await redis.restart()
    await waitFor(
      'the rollout to complete',
      async () => {
        const r = await fetch(`${url}/v1/changes/${id}`)
        return r.ok && ((await r.json()) as { state: string }).state === 'completed'
      },
      30_000,
      100,
    )
    await waitFor(
      'every client to have the change',
      () => [...seen.values()].every((s) => s.length >= 1),
      20_000,
    )
    await new Promise((r) => setTimeout(r, 300))
    for (const [client, got] of seen) expect(got, client).toEqual([id])
    // The refused push was never half-made.
    const list = (await (await fetch(`${url}/v1/changes`)).json()) as { changes: { id: string }[] }
    expect(list.changes.map((c) => c.id)).toEqual([id])
  })
})

/** Two coordinators on a 3-master Redis Cluster: every key of the fleet in one slot, the same behaviour. */
import { afterAll, describe, expect, it } from 'vitest'
import type { Coordinator } from '../../src/coordinator/coordinator.js'
import { type Change, createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { post, startCoordinator, waitFor } from '../helpers/coordinator.js'
import { startCluster } from '../helpers/redis.js'

describe('on Redis Cluster', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>> | undefined
  const cos: Coordinator[] = []
  let fleet: SlewClient<string>[] = []
  afterAll(async () => {
    await Promise.all(fleet.map((c) => c.close()))
    for (const co of cos) await co.close()
    await cluster?.stop()
  })

  it('elects a leader, rolls a change out through both replicas, and grants leases', {
    timeout: 60_000,
  }, async () => {
    cluster = await startCluster(3)
    const config = {
      fleet: 'clustered',
      store: { kind: 'redis' as const, nodes: cluster.startup.map((n) => `${n.host}:${n.port}`) },
      waves: { steps: [0.5, 1], bakeMs: 100 },
      replication: { leaseMs: 900 },
      confirmAbove: 1,
    }
    const a = await startCoordinator(config)
    const b = await startCoordinator(config)
    cos.push(a.co, b.co)
    const roles = async () =>
      Promise.all(
        [a.url, b.url].map(
          async (u) => ((await (await fetch(`${u}/readyz`)).json()) as { role: string }).role,
        ),
      )
    await waitFor(
      'one leader',
      async () => (await roles()).filter((r) => r === 'leader').length === 1,
    )
    const seen: string[] = []
    fleet = Array.from({ length: 10 }, (_, i) => {
      const c = createClient<string>({
        url: i % 2 ? a.url : b.url,
        clientId: `c${i}`,
        fleet: 'clustered',
        signingKeys: devSigningKeys,
        load: async (k) => k.toUpperCase(),
        heartbeatMs: 60_000,
      })
      c.on('change', (ch: Change) => seen.push(`${i}:${ch.id}`))
      return c
    })
    await Promise.all(fleet.map((c) => c.start()))
    for (const c of fleet) await c.get('k')
    await new Promise((r) => setTimeout(r, 300))
    const r = await post(`${b.url}/v1/changes`, { kind: 'invalidate', target: { keys: ['k'] } })
    expect(r.status).toBe(202)
    await waitFor('all ten clients', () => seen.length === 10, 20_000)
    const lease = (await (
      await post(`${a.url}/v1/leases`, { clientId: 'c1', want: 3 })
    ).json()) as { granted: number }
    expect(lease.granted).toBe(3)

    // A live config change made through the follower reaches both (leases use it at once).
    const [roleA] = await roles()
    const followerUrl = roleA === 'leader' ? b.url : a.url
    const leaseAt = async (u: string) =>
      (await (await post(`${u}/v1/leases`, { clientId: 'c1', want: 5 })).json()) as {
        granted: number
        ttlMs: number
      }
    expect((await leaseAt(followerUrl)).ttlMs).not.toBe(777)
    const put = await fetch(`${followerUrl}/v1/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        config: { leases: { ttlMs: 777, maxBatch: 2 } },
        reason: 'tighter leases',
      }),
    })
    expect(put.status).toBe(200)
    expect(put.headers.get('x-slew-leader')).not.toBeNull()
    for (const u of [a.url, b.url]) {
      await waitFor(`the new leases at ${u}`, async () => {
        const l = await leaseAt(u)
        return l.ttlMs === 777 && l.granted <= 2
      })
    }
  })
})

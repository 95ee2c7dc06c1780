/**
 * On Redis, every replica answers heartbeats with the lease terms: the
 * budgets it grants at and the fleet size counted across replicas (from the
 * store's presence records, at most a second old).
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { Coordinator } from '../../src/coordinator/coordinator.js'
import type { HeartbeatAnswer } from '../../src/protocol/messages.js'
import { createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { post, startCoordinator, waitFor } from '../helpers/coordinator.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'

describe('lease terms on Redis', () => {
  let redis: RedisServer
  const cos: Coordinator[] = []
  const fleet: SlewClient<string>[] = []
  afterAll(async () => {
    await Promise.all(fleet.map((c) => c.close()))
    for (const co of cos) await co.close()
    await redis?.stop()
  })

  it('counts the clients of every replica', { timeout: 60_000 }, async () => {
    redis = await startRedis()
    const config = {
      fleet: 'terms',
      store: { kind: 'redis' as const, url: redis.url },
      budgets: { invalidate: { ratePerSec: 40, burst: 8 } },
      leases: { ttlMs: 300 },
    }
    const urls: string[] = []
    for (let i = 0; i < 2; i++) {
      const { co, url } = await startCoordinator(config)
      cos.push(co)
      urls.push(url)
    }
    // Two clients on each replica.
    for (let i = 0; i < 4; i++) {
      const c = createClient<string>({
        url: urls[i % 2]!,
        clientId: `app-${i}`,
        fleet: 'terms',
        signingKeys: devSigningKeys,
        load: async (k) => k,
        heartbeatMs: 60_000,
      })
      fleet.push(c)
    }
    await Promise.all(fleet.map((c) => c.start()))
    for (const url of urls) {
      let answer: HeartbeatAnswer | undefined
      // The count may be up to a second old.
      await waitFor('all four counted', async () => {
        const res = await post(`${url}/v1/clients/app-0/heartbeat`, {})
        answer = (await res.json()) as HeartbeatAnswer
        return answer.fleetSize === 4
      })
      expect(answer).toMatchObject({
        ok: true,
        budgets: { invalidate: { ratePerSec: 40, burst: 8 } },
        fleetSize: 4,
        leaseTtlMs: 300,
      })
    }
  })
})

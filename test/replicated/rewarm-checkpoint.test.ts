/**
 * Rewarm checkpoints live in Redis: a coordinator restarted in the middle of
 * a rewarm reports the progress made before it (not from zero), the fleet
 * finishes without refetching anything, and after the last client is done a
 * new coordinator still reports every key done.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { Coordinator } from '../../src/coordinator/coordinator.js'
import { createCoordinator } from '../../src/coordinator/coordinator.js'
import { createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { pushKeys, waitFor } from '../helpers/coordinator.js'
import { freePort, type RedisServer, startRedis } from '../helpers/redis.js'

const KEYS = Array.from({ length: 100 }, (_, i) => `item:${i}`)
const CLIENTS = 5

describe('rewarm checkpoints in Redis', () => {
  let redis: RedisServer
  let co: Coordinator | undefined
  const fleet: SlewClient<string>[] = []
  afterAll(async () => {
    await Promise.all(fleet.map((c) => c.close()))
    await co?.close()
    await redis?.stop()
  })

  it('survive a coordinator restart: progress goes on from where it was', {
    timeout: 90_000,
  }, async () => {
    redis = await startRedis()
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const start = async () => {
      const c = createCoordinator({
        config: {
          fleet: 'ckpt',
          store: { kind: 'redis', url: redis.url },
          budgets: { rewarm: { ratePerSec: 100, burst: 5 } },
          leases: { ttlMs: 250, maxBatch: 5 },
          waves: { steps: [1], bakeMs: 0 },
          replication: { leaseMs: 600 },
          rewarm: { intervalMs: 200, start: 0.5 },
        },
        log: () => {},
        processMetrics: false,
      })
      await c.listen({ host: '127.0.0.1', port })
      await waitFor(
        'the coordinator to lead',
        async () =>
          ((await (await fetch(`${url}/readyz`)).json()) as { role: string }).role === 'leader',
      )
      return c
    }
    co = await start()
    const loads: string[] = []
    for (let i = 0; i < CLIENTS; i++) {
      fleet.push(
        createClient<string>({
          url,
          clientId: `app-${i}`,
          fleet: 'ckpt',
          signingKeys: devSigningKeys,
          heartbeatMs: 60_000,
          rewarmHeartbeatMs: 100,
          reconnect: { baseMs: 100, capMs: 500 },
          load: async (key) => {
            loads.push(`app-${i}:${key}`)
            await new Promise((r) => setTimeout(r, 2))
            return `${key}@v2`
          },
        }),
      )
    }
    await Promise.all(fleet.map((c) => c.start()))
    await waitFor(
      'the leader to see the fleet',
      async () =>
        ((await (await fetch(`${url}/v1/fleet`)).json()) as { clients: unknown[] }).clients
          .length === CLIENTS,
    )
    await new Promise((r) => setTimeout(r, 300)) // the joins reach the leader's engine

    const pushed = await pushKeys(url, KEYS)
    expect(pushed.status).toBe(202)
    const { id } = (await pushed.json()) as { id: string }
    type Progress = { state: string; rewarm: { keysDone: number; keysTotal: number } }
    const progress = async () => {
      const r = await fetch(`${url}/v1/changes/${id}`)
      return r.ok ? ((await r.json()) as Progress) : undefined
    }
    // Deliveries are paced by their cost (100 keys each, at 100/s): one client a second.
    type Rewarm = Progress['rewarm'] & { clientsReporting: number }
    await waitFor(
      'every client at work',
      async () => ((await progress())?.rewarm as Rewarm | undefined)?.clientsReporting === CLIENTS,
      20_000,
    )
    const before = (await progress())!.rewarm.keysDone
    expect(before).toBeLessThan(KEYS.length * CLIENTS)

    // Restart the coordinator: its successor reads the checkpoints from Redis.
    await co.close()
    co = await start()
    const after = (await progress())!
    expect(after.rewarm.keysTotal).toBe(KEYS.length * CLIENTS)
    expect(after.rewarm.keysDone).toBeGreaterThanOrEqual(before)

    await waitFor(
      'every key on every client',
      async () => (await progress())?.rewarm.keysDone === KEYS.length * CLIENTS,
      60_000,
      100,
    )
    // Nothing fetched twice: each client fetched each key once.
    expect(loads).toHaveLength(KEYS.length * CLIENTS)
    expect(new Set(loads).size).toBe(KEYS.length * CLIENTS)

    // Done, and everyone has stopped reporting: a new coordinator still knows it.
    await new Promise((r) => setTimeout(r, 300))
    await co.close()
    co = await start()
    expect((await progress())!.rewarm).toMatchObject({
      keysDone: KEYS.length * CLIENTS,
      keysTotal: KEYS.length * CLIENTS,
    })
  })
})

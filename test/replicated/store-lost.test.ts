/**
 * Redis is lost and comes back empty (no persistence) while the app servers
 * and both coordinator replicas stay up, their streams open. Every replica
 * notices, takes the fleet's new epoch, registers its streams in presence
 * again and moves its clients to the new epoch in place (a hello, then a
 * reset: no reconnect storm). Before any push: /v1/fleet counts every client
 * again. Then a push reaches every client exactly once and the caches serve
 * the new data; no client refused anything on the way (the reset of the new
 * epoch is not a replay, no message is of an epoch it does not follow). The
 * config the fleet ran is adopted from the clients' proofs (sent once a
 * leader of the new epoch answers): an app server that starts later gets it;
 * a hard invalidation in flight at the loss (half the fleet had it) is
 * recovered from the proofs of those that had it and reaches the rest.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { Coordinator } from '../../src/coordinator/coordinator.js'
import { type Change, createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { fleetKeys } from '../../src/store/keys.js'
import { RedisStore } from '../../src/store/redis.js'
import { post, startCoordinator, testOrigin, waitFor } from '../helpers/coordinator.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'

const FLEET = 'lost'
const N = 12
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4']

interface FleetView {
  connected: number
  epoch: string
}

const fleetOf = async (url: string): Promise<FleetView | undefined> => {
  const r = await fetch(`${url}/v1/fleet`).catch(() => undefined)
  return r?.ok ? ((await r.json()) as FleetView) : undefined
}

const roleOf = async (url: string): Promise<string | undefined> => {
  const r = await fetch(`${url}/readyz`).catch(() => undefined)
  return r ? ((await r.json()) as { role?: string }).role : undefined
}

describe('Redis lost and back empty, clients and coordinators up', () => {
  let redis: RedisServer
  const cos: Coordinator[] = []
  let fleet: SlewClient<string>[] = []
  afterAll(async () => {
    await Promise.all(fleet.map((c) => c.close()))
    for (const co of cos) await co.close()
    await redis?.stop()
  })

  it('registers every stream again, moves it to the new epoch in place, and every push after reaches every client once', {
    timeout: 90_000,
  }, async () => {
    redis = await startRedis()
    const config = {
      fleet: FLEET,
      store: { kind: 'redis' as const, url: redis.url },
      budgets: { invalidate: { ratePerSec: 2000, burst: 500 } },
      waves: { steps: [0.5, 1], bakeMs: 100 },
      replication: { leaseMs: 600 },
      confirmAbove: 1,
    }
    const a = await startCoordinator(config)
    const b = await startCoordinator(config)
    cos.push(a.co, b.co)
    const urls = [a.url, b.url]
    await waitFor('a leader', async () => (await Promise.all(urls.map(roleOf))).includes('leader'))

    const origin = testOrigin(0)
    const seen = new Map<string, string[]>()
    const resets = new Map<string, number>()
    const refused = new Map<string, string[]>()
    const drops = new Map<string, number>()
    fleet = Array.from({ length: N }, (_, i) => {
      const id = `app-${i}`
      const c = createClient<string>({
        url: urls[i % 2]!,
        clientId: id,
        fleet: FLEET,
        signingKeys: devSigningKeys,
        load: origin.load,
        heartbeatMs: 300,
        reconnect: { baseMs: 50, capMs: 300 },
      })
      seen.set(id, [])
      resets.set(id, 0)
      refused.set(id, [])
      drops.set(id, 0)
      c.on('change', (ch: Change) => ch.kind === 'invalidate' && seen.get(id)!.push(ch.id))
      c.on('reset', () => resets.set(id, resets.get(id)! + 1))
      c.on('rejected', (reason) => refused.get(id)!.push(reason))
      c.on('disconnected', () => drops.set(id, drops.get(id)! + 1))
      c.on('error', () => {})
      return c
    })
    await Promise.all(fleet.map((c) => c.start()))
    for (const c of fleet) for (const k of KEYS) await c.get(k)
    await waitFor('every client in the fleet', async () => (await fleetOf(a.url))?.connected === N)

    // Before the loss: a config the fleet runs, and a push applied everywhere.
    const push = async (change: Record<string, unknown>) => {
      const res = await post(`${a.url}/v1/changes`, change)
      expect(res.status).toBe(202)
      return ((await res.json()) as { id: string }).id
    }
    await push({ kind: 'config', values: { 'feature.x': 7 }, reason: 'a flag' })
    await waitFor('the config everywhere', () =>
      fleet.every((c) => c.config.get('feature.x') === 7),
    )
    origin.bump()
    const first = await push({ kind: 'invalidate', target: { all: true }, reason: 'before' })
    await waitFor('the first push everywhere', () =>
      [...seen.values()].every((s) => s.includes(first)),
    )
    await Promise.all(fleet.map((c) => c.idle()))
    // A hard invalidation in flight at the loss: its first half out, baking.
    const hard = await push({
      kind: 'invalidate',
      mode: 'hard',
      target: { keys: ['k1'] },
      waves: { steps: [0.5, 1], bakeMs: 60_000 },
      reason: 'in flight',
    })
    await waitFor('the hard invalidation’s first wave', async () => {
      const r = (await (await fetch(`${a.url}/v1/changes/${hard}`)).json()) as { phase: string }
      return r.phase === 'baking'
    })
    const hadHard = [...seen].filter(([, s]) => s.includes(hard)).length
    expect(hadHard).toBeGreaterThan(0)
    expect(hadHard).toBeLessThan(N)
    const epoch1 = (await fleetOf(a.url))!.epoch
    const streamsBefore = fleet.map((c) => c.stats().connected)
    expect(streamsBefore.every(Boolean)).toBe(true)

    // Redis lost: killed, and a new one, empty, on the same port.
    await redis.kill()
    await new Promise((r) => setTimeout(r, 1000))
    await redis.restart()
    const backAt = Date.now()

    // Before any push: the fleet counts every client again, on the new epoch, at both replicas.
    let views: (FleetView | undefined)[] = []
    await waitFor(
      'every client registered again, on a new epoch',
      async () => {
        views = await Promise.all(urls.map(fleetOf))
        return views.every((v) => v?.connected === N && v.epoch !== epoch1)
      },
      15_000,
      100,
    ).catch(() => {})
    expect(
      views.map((v) => v?.connected),
      'clients /v1/fleet counts after the loss',
    ).toEqual([N, N])
    const registeredMs = Date.now() - backAt
    // The store's budgets start the new epoch spent (no client asked for urgent tokens: only
    // that can have written the bucket), as the engine's do.
    const probe = await new RedisStore({ fleet: FLEET, url: redis.url }).connect()
    const tat = await probe.client.get(fleetKeys(FLEET).bucket('urgent:tokens'))
    await probe.close()
    expect(Number(tat), 'the urgent token bucket after the loss').toBeGreaterThan(backAt)
    const epoch2 = views[0]!.epoch
    expect(views[1]!.epoch).toBe(epoch2)
    // Moved in place: each client follows the new epoch and got its reset, and none reconnected.
    await waitFor('every client on the new epoch', () =>
      fleet.every((c) => c.stats().epoch === epoch2),
    )
    await waitFor('every client reset', () => [...resets.values()].every((n) => n >= 1))
    expect(fleet.every((c) => c.connected)).toBe(true)
    expect(Object.fromEntries([...drops].filter(([, n]) => n > 0)), 'streams dropped').toEqual({})

    // A push after the loss, once a leader leads the new epoch: every client applies it once.
    await waitFor('a leader of the new epoch', async () =>
      (await Promise.all(urls.map(roleOf))).includes('leader'),
    )
    await Promise.all(fleet.map((c) => c.idle()))
    origin.bump()
    const second = await push({ kind: 'invalidate', target: { all: true }, reason: 'after' })
    expect(second).toContain(epoch2)
    await waitFor(
      'the push after the loss at every client',
      () => [...seen.values()].every((s) => s.includes(second)),
      20_000,
    ).catch(() => {})
    const missing = [...seen].filter(([, s]) => !s.includes(second)).map(([id]) => id)
    expect(missing, 'clients the push after the loss never reached').toEqual([])
    await new Promise((r) => setTimeout(r, 300))
    await Promise.all(fleet.map((c) => c.idle()))
    // The hard invalidation in flight, recovered: at every client, once.
    await waitFor('the hard invalidation everywhere', () =>
      [...seen.values()].every((s) => s.includes(hard)),
    ).catch(() => {})
    for (const c of fleet) {
      const id = c.options.clientId
      expect(
        seen.get(id)!.filter((x) => x !== hard),
        id,
      ).toEqual([first, second])
      expect(
        seen.get(id)!.filter((x) => x === hard),
        `${id}: ${hard}`,
      ).toHaveLength(1)
      for (const k of KEYS) expect(await c.get(k), `${id} ${k}`).toBe(`${k}@v3`)
    }
    // Nothing refused: not the new epoch's reset (a replay?), not a message of another epoch.
    expect(Object.fromEntries([...refused].filter(([, r]) => r.length > 0))).toEqual({})
    const view = (await (await fetch(`${a.url}/v1/changes/${second}`)).json()) as {
      state: string
      delivered: number
    }
    expect(view).toMatchObject({ state: 'completed', delivered: N })

    // The fleet's config, proven by its clients, is the new epoch's: a new app server gets it.
    const adopted = () =>
      cos.some((co) => {
        try {
          return co.engine.stableConfigValues['feature.x'] === 7
        } catch {
          return false // a follower: the engine is the leader's
        }
      })
    await waitFor('the config adopted', adopted, 15_000)
    const late = createClient<string>({
      url: b.url,
      clientId: 'late',
      fleet: FLEET,
      signingKeys: devSigningKeys,
      load: origin.load,
      heartbeatMs: 60_000,
    })
    fleet.push(late)
    await late.start()
    expect(late.config.all()).toEqual({ 'feature.x': 7 })
    console.log(`every client registered again ${registeredMs} ms after Redis came back`)
  })
})

/**
 * Failover keeps pricing and progress. Clients connect with empty caches,
 * fill them, and say how big they are only by heartbeat; a rollout is in
 * flight when the leader is SIGKILLed. The new leader must price every client
 * at what it reported (never cheaper: B1 is about what a delivery can cost
 * the origin), so the rest of the rollout goes out under the budget — checked
 * over every window from the log's meta across the handover, against the
 * entries the clients really held — and the per-wave acked counts go on from
 * where the old leader left them, reaching the delivered counts once the
 * clients heartbeat again.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { ClientRecord } from '../../src/coordinator/replica/client-records.js'
import { STATE } from '../../src/coordinator/replica/restore.js'
import { deliveryCost } from '../../src/invalidation/change.js'
import type { Change } from '../../src/model/change.js'
import { createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { RedisStore } from '../../src/store/redis.js'
import { post, waitFor } from '../helpers/coordinator.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'
import { roleOf, serveReplica } from '../helpers/replicas.js'
import { overB1 } from '../property/check.js'

const FLEET = 'pricing'
const CLIENTS = 30
const RATE = 100
const BURST = 40
/** Client i's cache: 10 to 30 entries, all well under defaultEntries (1000). */
const entriesOf = (i: number) => 10 + (i % 5) * 5

interface WaveView {
  delivered: number
  acked: number
}
interface RolloutView {
  state: string
  wave: number
  phase: string
  waves: WaveView[]
}

describe('a leader killed mid-rollout, clients sized only by heartbeat', () => {
  let redis: RedisServer
  const procs: ChildProcess[] = []
  let fleet: SlewClient<string>[] = []
  let store: RedisStore | undefined
  afterAll(async () => {
    await Promise.all(fleet.map((c) => c.close()))
    await store?.close()
    for (const p of procs) p.kill('SIGKILL')
    await redis?.stop()
  })

  it('prices every client at what it reported and keeps the acked counts', {
    timeout: 90_000,
  }, async () => {
    redis = await startRedis()
    const dir = mkdtempSync(join(tmpdir(), 'slew-pricing-'))
    writeFileSync(
      join(dir, 'slew.config.yaml'),
      [
        `fleet: ${FLEET}`,
        `budgets: { invalidate: { ratePerSec: ${RATE}, burst: ${BURST} } }`,
        'waves: { steps: [0.2, 0.6, 1], bakeMs: 2000 }',
        'replication: { leaseMs: 900 }',
        'confirmAbove: 1',
      ].join('\n'),
    )
    const replicas = [await serveReplica(dir, redis.url), await serveReplica(dir, redis.url)]
    procs.push(...replicas.map((r) => r.p))
    await waitFor('a leader', async () =>
      (await Promise.all(replicas.map((r) => roleOf(r.url)))).includes('leader'),
    )
    const roles = await Promise.all(replicas.map((r) => roleOf(r.url)))
    const leader = replicas[roles.indexOf('leader')]!
    const follower = replicas[roles.indexOf('follower')]!
    store = await new RedisStore({ fleet: FLEET, url: redis.url }).connect()

    fleet = Array.from({ length: CLIENTS }, (_, i) =>
      createClient<string>({
        url: replicas[i % 2]!.url,
        clientId: `app-${i}`,
        fleet: FLEET,
        signingKeys: devSigningKeys,
        load: async (k) => `${k}!`,
        // No heartbeat of their own: the test says when they report.
        heartbeatMs: 600_000,
        reconnect: { baseMs: 50, capMs: 300 },
      }),
    )
    const applied = new Map<string, string[]>(fleet.map((c) => [c.options.clientId, []]))
    for (const c of fleet)
      c.on('change', (ch: Change) => applied.get(c.options.clientId)!.push(ch.id))
    await Promise.all(fleet.map((c) => c.start()))
    // Connected with empty caches: what they said at connect is 0.
    const presence = await store.presence()
    for (const c of fleet)
      expect(JSON.parse(presence[c.options.clientId]!), c.options.clientId).toMatchObject({ e: 0 })
    // The caches fill after connecting; only a heartbeat tells the coordinator.
    const entries = new Map<string, number>()
    await Promise.all(
      fleet.map(async (c, i) => {
        const n = entriesOf(i)
        for (let k = 0; k < n; k++) await c.get(`k${k}`)
        entries.set(c.options.clientId, n)
      }),
    )
    await Promise.all(fleet.map((c) => c.heartbeat()))
    const change = { kind: 'invalidate', target: { all: true } } as const
    const realTotal = [...entries.values()].reduce((n, e) => n + deliveryCost(change, e), 0)
    await waitFor('the leader to have heard every cache’s size', async () => {
      const plan = await post(`${follower.url}/v1/changes?dryRun=1`, change)
      return ((await plan.json()) as { plan: { totalCost: number } }).plan.totalCost === realTotal
    })

    const pushed = await post(`${follower.url}/v1/changes`, {
      ...change,
      reason: 'failover pricing test',
    })
    expect(pushed.status).toBe(202)
    const { id } = (await pushed.json()) as { id: string }
    const view = async (url: string) =>
      (await (await fetch(`${url}/v1/changes/${id}`)).json()) as RolloutView

    // The first wave out and baking: its clients heartbeat their acks to the old leader.
    await waitFor(
      'the first wave to bake',
      async () => {
        const r = await view(follower.url)
        return r.wave > 0 || (r.wave === 0 && r.phase === 'baking')
      },
      20_000,
      20,
    )
    await Promise.all(fleet.map((c) => c.heartbeat()))
    let before = await view(follower.url)
    await waitFor('the first wave’s acks', async () => {
      before = await view(follower.url)
      return before.waves[0]!.acked === before.waves[0]!.delivered
    })
    // The acks' records ride the leader's next commit: wait for it, not for a guessed time.
    const firstWave = (await store.read(0, 1000)).filter(
      (r) => (JSON.parse(r.meta!) as { wave: number }).wave === 0,
    )
    const ackedInStore = async () => {
      const state = await store!.state()
      return firstWave.every((r) =>
        r.to.every((c) => {
          const raw = state[STATE.client(c)]
          return raw !== undefined && ((JSON.parse(raw) as ClientRecord).a ?? 0) >= r.seq
        }),
      )
    }
    // (A leader that keeps none never gets there: the check after the takeover says so.)
    await waitFor('the acks to be committed', ackedInStore, 3_000).catch(() => {})
    before = await view(follower.url)
    expect(before.state).toBe('rolling')
    expect(before.waves[0]!.delivered).toBeGreaterThan(0)
    const deliveredBefore = before.waves.reduce((n, w) => n + w.delivered, 0)
    expect(deliveredBefore).toBeLessThan(CLIENTS / 2)

    const killedAt = Date.now()
    leader.p.kill('SIGKILL')
    const back = await serveReplica(dir, redis.url, Number(new URL(leader.url).port))
    procs.push(back.p)
    await waitFor('a new leader', async () =>
      (await Promise.all([follower, back].map((r) => roleOf(r.url).catch(() => '')))).includes(
        'leader',
      ),
    )
    // Before any client says anything more, the new leader counts the acks the old one had.
    const after = await view(follower.url)
    expect
      .soft(after.waves[0]!.acked, 'wave 0 acked after the takeover')
      .toBe(before.waves[0]!.acked)

    await waitFor(
      'the rollout to complete under the new leader',
      async () => (await view(follower.url)).state === 'completed',
      60_000,
      100,
    )
    await waitFor('every client to have the change', () =>
      [...applied.values()].every((s) => s.length >= 1),
    )
    for (const [client, got] of applied) expect(got, client).toEqual([id])

    // Every delivery as the log has it: priced at no less than what its clients reported,
    // and under the budget in every window, by the engine's figures and by the real ones.
    const log = await store.read(0, 10_000)
    const priced: [number, number][] = []
    const real: [number, number][] = []
    const cheap: string[] = []
    for (const r of log) {
      const meta = JSON.parse(r.meta!) as { at: number; cost: number }
      const cost = r.to.reduce((n, c) => n + deliveryCost(change, entries.get(c)!), 0)
      if (meta.cost < cost) cheap.push(`${r.to.join(',')}: ${meta.cost} < ${cost}`)
      priced.push([meta.at, meta.cost])
      real.push([meta.at, cost])
    }
    expect(log.flatMap((r) => r.to).sort()).toEqual([...entries.keys()].sort())
    expect.soft(cheap, 'deliveries priced below what their clients reported').toEqual([])
    const largest = Math.max(...[...entries.values()].map((n) => deliveryCost(change, n)))
    const cap = Math.max(BURST, largest)
    expect.soft(overB1(priced, RATE, cap), 'a window over B1 (the engine’s costs)').toBeUndefined()
    const over = overB1(real, RATE, cap)
    const sinceKill = real.filter(([at]) => at >= killedAt)
    const spanMs = sinceKill.length > 1 ? sinceKill.at(-1)![0] - sinceKill[0]![0] : 0
    const costSinceKill = sinceKill.reduce((n, [, c]) => n + c, 0)
    expect
      .soft(
        over,
        `a window over B1 (real costs); after the kill ${costSinceKill} units in ${spanMs} ms`,
      )
      .toBeUndefined()

    // Once every client heartbeats, each wave's acked count reaches its delivered count.
    await Promise.all(fleet.map((c) => c.heartbeat()))
    let final = await view(follower.url)
    await waitFor(
      'the acks to reach the deliveries',
      async () => {
        final = await view(follower.url)
        return final.waves.every((w) => w.acked === w.delivered)
      },
      5_000,
    ).catch(() => {})
    expect(final.waves.map((w) => w.acked)).toEqual(final.waves.map((w) => w.delivered))
    expect(final.waves.reduce((n, w) => n + w.delivered, 0)).toBe(CLIENTS)
  })
})

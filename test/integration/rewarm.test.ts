/**
 * Rewarm over real HTTP and SSE: a content-push job submits its keys as
 * NDJSON; every client prefetches them hottest first under leased rewarm
 * tokens (the origin stays within the budget in every window); the change
 * reports keys done / total, the fleet rate and an ETA.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import {
  clients,
  closeAfterAll,
  peakIn,
  pushKeys,
  startCoordinator,
  testOrigin,
  waitFor,
} from '../helpers/coordinator.js'

const RATE = 400
const BURST = 40
const TTL = 250

describe('rewarm after a content push', () => {
  let fleet: SlewClient<string>[] = []
  const closers = closeAfterAll()
  // Registered after: after-hooks run last-registered first, so the clients close before the coordinators.
  afterAll(async () => {
    await Promise.all(fleet.map((c) => c.close()))
  })

  it('prefetches every key on every client under the budget, and reports progress', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      budgets: { rewarm: { ratePerSec: RATE, burst: BURST } },
      leases: { ttlMs: TTL, maxBatch: 20 },
      waves: { steps: [0.5, 1], bakeMs: 100 },
      rewarm: { intervalMs: 200, targetLatencyMs: 200, maxKeys: 1000 },
    })
    closers.push(() => co.close())
    const origin = testOrigin(2)
    fleet = clients<string>(10, {
      url,
      load: origin.load,
      heartbeatMs: 60_000,
      rewarmHeartbeatMs: 200,
    })
    await Promise.all(fleet.map((c) => c.start()))

    const keys = Array.from({ length: 300 }, (_, i) => `page:${i}`)
    const pushed = await pushKeys(url, keys, { kind: 'rewarm', reason: 'content push 42' })
    expect(pushed.status).toBe(202)
    const { id } = (await pushed.json()) as { id: string }

    type Progress = {
      state: string
      rewarm: { keysDone: number; keysTotal: number; ratePerSec: number; etaMs: number }
    }
    const progress = async () => (await (await fetch(`${url}/v1/changes/${id}`)).json()) as Progress
    let seenMidway = false
    await waitFor(
      'every key on every client',
      async () => {
        const p = await progress()
        if (p.rewarm.keysDone > 0 && p.rewarm.keysDone < 3000) {
          seenMidway = true
          expect(p.rewarm.etaMs).toBeGreaterThan(0)
        }
        return p.rewarm.keysDone === 3000
      },
      45_000,
      100,
    )
    const done = await progress()
    expect(done).toMatchObject({
      state: 'completed',
      rewarm: { keysDone: 3000, keysTotal: 3000, etaMs: 0 },
    })
    expect(done.rewarm.ratePerSec).toBeGreaterThan(0)
    expect(done.rewarm.ratePerSec).toBeLessThanOrEqual(RATE)
    expect(seenMidway).toBe(true)
    // Ops see the control loop: the rate it set and the origin as the fleet reported it.
    const metrics = await (await fetch(`${url}/metrics`)).text()
    const rate = Number(/^slew_rewarm_rate_per_second (\S+)$/m.exec(metrics)?.[1])
    expect(rate).toBeGreaterThan(0)
    expect(rate).toBeLessThanOrEqual(RATE)
    expect(metrics).toMatch(/^slew_origin_latency_seconds\{quantile="0.99"\} \d/m)
    expect(metrics).toMatch(/^slew_origin_error_ratio 0$/m)
    for (const c of fleet) for (const k of keys) expect(c.peek(k)).toMatch(/^page:\d+@v1$/)

    const fetches = origin.calls.map((c) => c.at)
    expect(fetches).toHaveLength(3000)
    for (const w of [100, 500, 1000, 3000]) {
      expect(peakIn(fetches, w), `window ${w} ms`).toBeLessThanOrEqual(
        BURST + (RATE * (w + TTL)) / 1000,
      )
    }
    // Refused whole: a key list over rewarm.maxKeys.
    const refused = await pushKeys(
      url,
      Array.from({ length: 1001 }, (_, i) => `k${i}`),
    )
    expect(refused.status).toBe(413)
    // Any kind, and counted as sent: an over-long list is refused, never cut short.
    const invalidate = await pushKeys(
      url,
      Array.from({ length: 1001 }, (_, i) => `k${i}`),
      { kind: 'invalidate' },
    )
    expect(invalidate.status).toBe(413)
    const repeats = await pushKeys(url, Array(1001).fill('same'))
    expect(repeats.status).toBe(413)
    expect(co.engine.list()).toHaveLength(1)
  })

  it("rewarms each client's own hot set: what it holds stale, most recent first, and its saved keys", {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      budgets: { rewarm: { ratePerSec: 200, burst: 10 } },
      leases: { ttlMs: TTL, maxBatch: 5 },
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    const origin = testOrigin(1)
    const [app] = clients<string>(1, {
      url,
      load: origin.load,
      heartbeatMs: 60_000,
      rewarmHeartbeatMs: 100,
      refetch: { background: false }, // an invalidate-all leaves its entries stale, unfetched
      hotKeys: () => ['saved:1', 'saved:2', 'held:3'], // e.g. saved before a restart
    })
    fleet.push(app!)
    closers.push(() => co.close())
    await app!.start()
    for (let i = 0; i < 30; i++) await app!.get(`held:${i}`)
    await app!.get('held:7') // the most recently used
    const post = (body: unknown) =>
      fetch(`${url}/v1/changes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const all = await post({
      kind: 'invalidate',
      target: { all: true },
      confirm: true,
      reason: 'x',
    })
    expect(all.status).toBe(202)
    await waitFor('the invalidate-all', () => app!.stats().applied >= 2)
    const before = origin.calls.length
    const hot = await post({ kind: 'rewarm', target: { hotSet: true } })
    expect(hot.status).toBe(202)
    const { id } = (await hot.json()) as { id: string }
    await waitFor(
      'the hot set',
      async () =>
        (
          (await (await fetch(`${url}/v1/changes/${id}`)).json()) as {
            rewarm: { keysDone: number }
          }
        ).rewarm.keysDone === 32,
    )
    const fetched = origin.calls.slice(before).map((c) => c.key)
    // 30 stale entries, most recently used first, then the saved keys it does not hold.
    expect(fetched).toHaveLength(32)
    expect(fetched[0]).toBe('held:7')
    expect(fetched.slice(30).sort()).toEqual(['saved:1', 'saved:2'])
    for (let i = 0; i < 30; i++) expect(app!.peek(`held:${i}`)).toBe(`held:${i}@v1`)
  })

  it('never fetches more keys than the cache holds: the hottest fill it, the rest are skipped', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      budgets: { rewarm: { ratePerSec: 500, burst: 50 } },
      leases: { ttlMs: TTL, maxBatch: 20 },
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    closers.push(() => co.close())
    const origin = testOrigin(1)
    const [small, hot] = [50, 60].map((max, i) =>
      createClient<string>({
        url,
        clientId: `small-${i}`,
        signingKeys: devSigningKeys,
        cache: { max },
        load: origin.load,
        heartbeatMs: 60_000,
        rewarmHeartbeatMs: 100,
      }),
    )
    fleet.push(small!, hot!)
    await Promise.all([small!.start(), hot!.start()])
    // The second holds 20 keys of its own already, and 10 of the list (its content changed).
    for (let i = 0; i < 20; i++) await hot!.get(`own:${i}`)
    for (let i = 190; i < 200; i++) await hot!.get(`page:${i}`)
    // Their heartbeats tell the coordinator their cache sizes: deliveries cost what fits.
    await Promise.all([small!.heartbeat(), hot!.heartbeat()])
    const before = origin.calls.length
    const keys = Array.from({ length: 200 }, (_, i) => `page:${i}`)
    const pushed = await pushKeys(url, keys)
    expect(pushed.status, await pushed.clone().text()).toBe(202)
    const { id } = (await pushed.json()) as { id: string }
    type Rewarm = { keysDone: number; keysSkipped: number; keysTotal: number; etaMs: number }
    const progress = async () =>
      ((await (await fetch(`${url}/v1/changes/${id}`)).json()) as { rewarm: Rewarm }).rewarm
    await waitFor('both clients done', async () => {
      const p = await progress()
      return p.keysTotal === 110 && p.keysDone === 110
    })
    // The first fetched the 50 hottest; the second the 10 it held and the 50 hottest it did not.
    expect(await progress()).toMatchObject({ keysSkipped: 290, etaMs: 0 })
    const change = (await (await fetch(`${url}/v1/changes/${id}`)).json()) as {
      deliveredCost: number
    }
    // What fits each cache (50, 60), the second's capped at the class's burst (50).
    expect(change.deliveredCost).toBe(50 + 50)
    const fetched = origin.calls.slice(before).map((c) => c.key)
    expect(fetched).toHaveLength(110)
    for (let i = 0; i < 50; i++) expect(small!.peek(`page:${i}`)).toBe(`page:${i}@v1`)
    expect(small!.peek('page:50')).toBeUndefined()
    for (const i of [...Array(50).keys(), 190, 199])
      expect(hot!.peek(`page:${i}`)).toBe(`page:${i}@v1`)
    expect(small!.stats().entries).toBe(50)
  })

  it('slew status ID --watch follows the keys until the clients have fetched them', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      budgets: { rewarm: { ratePerSec: 20, burst: 2 } },
      leases: { ttlMs: TTL, maxBatch: 2 },
      waves: { steps: [1], bakeMs: 0 },
      rewarm: { intervalMs: 200, start: 0.9 },
    })
    closers.push(() => co.close())
    const [app] = clients<string>(1, {
      url,
      load: testOrigin(1).load,
      heartbeatMs: 60_000,
      rewarmHeartbeatMs: 200,
    })
    fleet.push(app!)
    await app!.start()
    const keys = Array.from({ length: 60 }, (_, i) => `w:${i}`)
    const pushed = await pushKeys(url, keys)
    const { id } = (await pushed.json()) as { id: string }
    // A real CLI process (not a TTY: one frame per second, appended).
    const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js')
    const cli = spawn(process.execPath, [bin, 'status', id, '--watch', '--url', url])
    let out = ''
    cli.stdout.on('data', (b: Buffer) => {
      out += b.toString()
    })
    const code = await new Promise<number | null>((r) => cli.on('exit', r))
    expect(code).toBe(0)
    const frames = out.split('\n').filter((l) => l.startsWith(id))
    // Delivered at once, then followed while the keys come in, and ended only when all are in.
    expect(frames.some((l) => /delivered, fetching .*\[#*-+\]/.test(l))).toBe(true)
    expect(frames.at(-1)).toMatch(/completed .*\[#{24}\] 100% .*keys 60\/60/)
  })
})

/**
 * Degraded mode (S): heartbeats teach each client the fleet's budgets and
 * size, so that when leases cannot be had — the coordinator gone, hung or
 * failing — readers of hard-invalidated keys are still answered, within
 * refetch.maxWaitMs, and the fleet's origin calls stay within the last
 * known budget: each client at rate/n with a burst of max(1, burst/n). A
 * budget that says no is obeyed, not taken for an absent coordinator.
 */
import { describe, expect, it } from 'vitest'
import { HttpError } from '../../src/errors.js'
import { realClock } from '../../src/limiter/clock.js'
import type { HeartbeatAnswer } from '../../src/protocol/messages.js'
import { OverBudgetError, type SlewClient } from '../../src/sdk/index.js'
import {
  clients,
  closeAfterAll,
  peakIn,
  post,
  startCoordinator,
  testOrigin,
  waitFor,
} from '../helpers/coordinator.js'
import { startMitm } from '../helpers/mitm.js'

/** Every client holds every key, dead (hard-invalidated, delivered). */
const allDead = (fleet: readonly SlewClient<string>[], keys: readonly string[]) =>
  fleet.every((c) => keys.every((k) => c.cache.lru.peek(k)?.state === 'dead'))

/** Push a hard invalidation of `keys` and wait until every client has applied it. */
const invalidateHard = async (
  url: string,
  fleet: readonly SlewClient<string>[],
  keys: readonly string[],
) => {
  const res = await post(`${url}/v1/changes`, {
    kind: 'invalidate',
    target: { keys },
    mode: 'hard',
  })
  expect(res.status).toBe(202)
  await waitFor('the hard invalidation everywhere', () => allDead(fleet, keys))
}

/** `get(key)`, with how long it took. */
const timedGet = async (c: SlewClient<string>, key: string) => {
  const started = Date.now()
  const value = await c.get(key)
  return { key, value, ms: Date.now() - started }
}

describe('degraded mode', () => {
  const closers = closeAfterAll()

  it('a heartbeat is answered with the budgets in force, the fleet size and the lease TTL', async () => {
    const { co, url } = await startCoordinator({
      budgets: {
        invalidate: { ratePerSec: 30, burst: 6 },
        rewarm: { ratePerSec: 20, burst: 10 },
        urgent: { ratePerSec: 300, burst: 60 },
      },
      leases: { ttlMs: 400 },
    })
    closers.push(() => co.close())
    const fleet = clients<string>(3, { url, load: testOrigin().load, heartbeatMs: 60_000 })
    for (const c of fleet) closers.push(() => c.close())
    await Promise.all(fleet.map((c) => c.start()))
    await waitFor('three streams', async () => {
      const f = (await (await fetch(`${url}/v1/fleet`)).json()) as { connected: number }
      return f.connected === 3
    })
    const res = await post(`${url}/v1/clients/app-0/heartbeat`, { entries: 0 })
    expect(res.status).toBe(200)
    const answer = (await res.json()) as HeartbeatAnswer
    expect(answer).toMatchObject({
      ok: true,
      budgets: {
        invalidate: { ratePerSec: 30, burst: 6 },
        urgent: { ratePerSec: 300, burst: 60 },
      },
      fleetSize: 3,
      leaseTtlMs: 400,
    })
    expect(answer.seq).toBeGreaterThan(0)
    // Rewarm: the adaptive rate in force, never above its budget.
    const rewarm = answer.budgets!.rewarm
    expect(rewarm.ratePerSec).toBeGreaterThan(0)
    expect(rewarm.ratePerSec).toBeLessThanOrEqual(20)
    expect(rewarm.burst).toBeGreaterThanOrEqual(1)
    expect(rewarm.burst).toBeLessThanOrEqual(10)
  })

  it('answers readers after the coordinator dies, within the last known fair share', {
    timeout: 60_000,
  }, async () => {
    // Fleet-wide 30 tokens/s, 6 at once: with 3 clients, each 10/s and 2 at once.
    const budget = { ratePerSec: 30, burst: 6 }
    const { co, url } = await startCoordinator({
      budgets: { invalidate: budget },
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    let closed = false
    closers.push(async () => {
      if (!closed) await co.close()
    })
    const origin = testOrigin(1)
    // No background refetch: the readers are the only demand, and it all comes after the death.
    const fleet = clients<string>(3, {
      url,
      load: origin.load,
      heartbeatMs: 60_000,
      refetch: { background: false },
    })
    for (const c of fleet) closers.push(() => c.close())
    const entered: unknown[] = []
    for (const c of fleet) c.on('degraded', ({ cause }) => entered.push(cause))
    await Promise.all(fleet.map((c) => c.start()))
    const keys = Array.from({ length: 20 }, (_, i) => `k:${i}`)
    for (const c of fleet) for (const k of keys) expect(await c.get(k)).toBe(`${k}@v1`)
    await waitFor('three streams', async () => {
      const f = (await (await fetch(`${url}/v1/fleet`)).json()) as { connected: number }
      return f.connected === 3
    })
    // The terms: budgets and a fleet of 3.
    for (const c of fleet) await c.heartbeat()
    origin.bump()
    await invalidateHard(url, fleet, keys)

    await co.close()
    closed = true
    const diedAt = realClock.now()
    const before = origin.calls.length
    const reads = await Promise.all(fleet.flatMap((c) => keys.map((k) => timedGet(c, k))))
    for (const r of reads) expect(r.value).toBe(`${r.key}@v2`)
    const slowest = Math.max(...reads.map((r) => r.ms))
    expect(slowest).toBeLessThan(fleet[0]!.options.refetch.maxWaitMs)

    const after = origin.calls.slice(before).map((c) => c.at)
    expect(after).toHaveLength(60)
    expect(after.every((t) => t >= diedAt)).toBe(true)
    // Each client: burst share 2, rate share 10/s (+1 ms: a local token lives that long).
    const bound = (windowMs: number) => 3 * (2 + (10 * (windowMs + 1)) / 1000)
    const peaks = [1, 100, 250, 500, 1000, 1500].map((w) => ({ w, peak: peakIn(after, w) }))
    for (const { w, peak } of peaks) expect(peak, `${w} ms window`).toBeLessThanOrEqual(bound(w))
    // Paced, not all at once: 60 calls take at least (60 - 6) / 30 s.
    const span = Math.max(...after) - Math.min(...after)
    expect(span).toBeGreaterThanOrEqual(((60 - 6) / 30) * 1000 - 50)

    for (const c of fleet) {
      const s = c.stats()
      expect(s.degraded).toBe(true)
      expect(s.localTokensUsed).toBeGreaterThanOrEqual(20)
    }
    // Once each, for why: no coordinator at that address (refused, or cut as it went).
    expect(entered).toHaveLength(3)
    for (const cause of entered) {
      expect(cause).toBeInstanceOf(Error)
      expect(cause).not.toBeInstanceOf(HttpError)
      expect((cause as NodeJS.ErrnoException).code).toMatch(/^E(CONNREFUSED|CONNRESET)$/)
    }
  })

  it('with background refetch (the default): bounded by the shares plus what was leased before', {
    timeout: 60_000,
  }, async () => {
    const budget = { ratePerSec: 30, burst: 6 }
    const leaseTtlMs = 250
    const { co, url } = await startCoordinator({
      budgets: { invalidate: budget },
      leases: { ttlMs: leaseTtlMs },
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    let closed = false
    closers.push(async () => {
      if (!closed) await co.close()
    })
    const origin = testOrigin(1)
    const fleet = clients<string>(3, { url, load: origin.load, heartbeatMs: 60_000 })
    for (const c of fleet) closers.push(() => c.close())
    await Promise.all(fleet.map((c) => c.start()))
    const keys = Array.from({ length: 40 }, (_, i) => `k:${i}`)
    for (const c of fleet) for (const k of keys) await c.get(k)
    await waitFor('three streams', async () => {
      const f = (await (await fetch(`${url}/v1/fleet`)).json()) as { connected: number }
      return f.connected === 3
    })
    for (const c of fleet) await c.heartbeat()
    origin.bump()
    const before = origin.calls.length
    const res = await post(`${url}/v1/changes`, {
      kind: 'invalidate',
      target: { keys },
      mode: 'hard',
    })
    expect(res.status).toBe(202)
    // Every client has it and refetches in the background under leases; then the coordinator dies.
    await waitFor('applied everywhere', () => fleet.every((c) => c.stats().applied === 2))
    // It dies from the moment its close begins: leases fail from then on, and a client may
    // spend local tokens while close() is still under way.
    const diedAt = realClock.now()
    const leased = origin.calls.length - before
    await co.close()
    closed = true
    await waitFor(
      'every entry refetched',
      () => fleet.every((c) => keys.every((k) => c.cache.lru.peek(k)?.state === 'fresh')),
      30_000,
    )
    for (const c of fleet) for (const k of keys) expect(await c.get(k)).toBe(`${k}@v2`)
    const after = origin.calls
      .slice(before)
      .map((c) => c.at)
      .filter((t) => t >= diedAt)
    expect(leased + after.length).toBe(120)
    // The shares (2 at once, 10/s each), plus tokens leased in the last leaseTtl before the
    // death, which may still be spent after it (B2's slack: burst + rate·leaseTtl).
    const slack = budget.burst + (budget.ratePerSec * leaseTtlMs) / 1000
    const bound = (windowMs: number) => 3 * (2 + (10 * (windowMs + 1)) / 1000) + slack
    const peaks = [1, 100, 250, 500, 1000, 2000].map((w) => ({ w, peak: peakIn(after, w) }))
    for (const { w, peak } of peaks) expect(peak, `${w} ms window`).toBeLessThanOrEqual(bound(w))
    // The clients that still had refetches to make when it died made them under local tokens:
    // none without a token (beyond those leased before the death). Not each local token one
    // call: a token taken for a wait that gave its place up while it was asked for expires.
    const local = fleet.reduce((n, c) => n + c.stats().localTokensUsed, 0)
    expect(local).toBeGreaterThan(0)
    expect(after.length).toBeLessThanOrEqual(local + slack)
    expect(fleet.some((c) => c.stats().degraded)).toBe(true)
  })

  it('obeys a budget that says no: not degraded, the reader is shed', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      // Two tokens (and two deliveries) at once, then one per 10 s.
      budgets: { invalidate: { ratePerSec: 0.1, burst: 2 } },
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    closers.push(() => co.close())
    const origin = testOrigin(1)
    const [c] = clients<string>(1, {
      url,
      load: origin.load,
      heartbeatMs: 60_000,
      refetch: { background: false, maxWaitMs: 1500 },
    }) as [SlewClient<string>]
    closers.push(() => c.close())
    const entered: unknown[] = []
    c.on('degraded', (e) => entered.push(e))
    await c.start()
    for (const k of ['a', 'b']) await c.get(k)
    await c.heartbeat()
    await invalidateHard(url, [c], ['a', 'b'])
    // Someone else takes both tokens: the client's lease is answered with granted 0.
    const taken = await post(`${url}/v1/leases`, { clientId: 'other', want: 2 })
    expect(await taken.json()).toMatchObject({ granted: 2 })
    const before = origin.calls.length
    await expect(c.get('a')).rejects.toBeInstanceOf(OverBudgetError)
    expect(origin.calls.length).toBe(before)
    expect(c.stats()).toMatchObject({ degraded: false, localTokensUsed: 0 })
    expect(entered).toEqual([])
  })

  it('a failing or hung lease call: degraded at once or after 1 s, back to leases when answered', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      budgets: { invalidate: { ratePerSec: 30, burst: 6 } },
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    closers.push(() => co.close())
    // In front of the coordinator: leases pass, fail with 503, or hang (8 s, far past every limit).
    let leases: 'pass' | 'fail' | 'hang' = 'pass'
    const isLease = (method: string, path: string) => method === 'POST' && path === '/v1/leases'
    const mitm = await startMitm(url, {
      delayMs: (m, p) => (isLease(m, p) && leases === 'hang' ? 8000 : 0),
      refuse: (m, p) => (isLease(m, p) && leases === 'fail' ? 503 : undefined),
    })
    closers.push(() => mitm.close())
    const origin = testOrigin(1)
    const [c] = clients<string>(1, {
      url: mitm.url,
      load: origin.load,
      heartbeatMs: 60_000,
      refetch: { background: false },
    }) as [SlewClient<string>]
    closers.push(() => c.close())
    const events: string[] = []
    const causes: unknown[] = []
    c.on('degraded', ({ cause }) => {
      events.push('degraded')
      causes.push(cause)
    })
    c.on('recovered', () => events.push('recovered'))
    await c.start()
    const keys = ['a', 'b', 'c', 'd']
    for (const k of keys) await c.get(k)
    await c.heartbeat()
    origin.bump()
    await invalidateHard(url, [c], keys)

    // 503 from in front of the coordinator: degraded at once.
    leases = 'fail'
    const failed = await timedGet(c, 'a')
    expect(failed.value).toBe('a@v2')
    expect(failed.ms).toBeLessThan(1000)
    expect(c.stats()).toMatchObject({ degraded: true, localTokensUsed: 1 })
    expect(causes[0]).toBeInstanceOf(HttpError)
    expect((causes[0] as HttpError).status).toBe(503)

    // It answers again: a heartbeat gets through, and the next lease comes from the coordinator.
    leases = 'pass'
    await c.heartbeat()
    expect((await timedGet(c, 'b')).value).toBe('b@v2')
    expect(c.stats()).toMatchObject({ degraded: false, localTokensUsed: 1 })
    expect(events).toEqual(['degraded', 'recovered'])

    // Hung: the lease call is given up after 1 s; the reader is answered well within maxWaitMs.
    leases = 'hang'
    const hung = await timedGet(c, 'c')
    expect(hung.value).toBe('c@v2')
    expect(hung.ms).toBeGreaterThanOrEqual(950)
    expect(hung.ms).toBeLessThan(3000)
    expect(c.stats()).toMatchObject({ degraded: true, localTokensUsed: 2 })
    expect((causes[1] as Error).name).toBe('TimeoutError')

    leases = 'pass'
    await c.heartbeat()
    expect((await timedGet(c, 'd')).value).toBe('d@v2')
    expect(c.stats()).toMatchObject({ degraded: false, localTokensUsed: 2 })
    expect(events).toEqual(['degraded', 'recovered', 'degraded', 'recovered'])
    expect(c.stats().refetchTokensUsed).toBe(4)
  })
})

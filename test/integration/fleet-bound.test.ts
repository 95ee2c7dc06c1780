/**
 * 200 SDK clients in one process against one coordinator, each caching 200
 * entries; an invalidate-all under a 2,000/s budget. The origin's calls stay
 * within burst + rate·(T + lease TTL) in every window (B2, on the real
 * clock), and every client converges: every entry fresh again.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { SlewClient } from '../../src/sdk/index.js'
import {
  clients,
  peakIn,
  post,
  startCoordinator,
  testOrigin,
  waitFor,
} from '../helpers/coordinator.js'

const N = 200
const ENTRIES = 200
const RATE = 2000
const BURST = 2000
const TTL = 250

describe('a fleet of 200 clients under one coordinator', () => {
  let fleet: SlewClient<string>[] = []
  let stop: () => Promise<void> = async () => {}
  afterAll(async () => {
    await Promise.all(fleet.map((c) => c.close()))
    await stop()
  })

  it('keeps the origin within the bound in every window, and converges', {
    timeout: 120_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      budgets: { invalidate: { ratePerSec: RATE, burst: BURST } },
      leases: { ttlMs: TTL, maxBatch: 50 },
      waves: { steps: [0.05, 0.25, 1], bakeMs: 500 },
      confirmAbove: 1,
    })
    stop = () => co.close()
    const origin = testOrigin(1)
    fleet = clients<string>(N, {
      url,
      load: origin.load,
      heartbeatMs: 60_000,
      cache: { max: 1000 },
    })
    await Promise.all(fleet.map((c) => c.start()))
    for (const c of fleet)
      await Promise.all(Array.from({ length: ENTRIES }, (_, k) => c.get(`item:${k}`)))
    expect(origin.calls.length).toBe(N * ENTRIES)
    // Report cache sizes so deliveries are priced right (B1 paces by them).
    await Promise.all(fleet.map((c) => c.heartbeat()))

    const from = origin.calls.length
    origin.bump()
    const pushed = await post(`${url}/v1/changes`, {
      kind: 'invalidate',
      target: { all: true },
      reason: 'test',
    })
    expect(pushed.status).toBe(202)
    const { id } = (await pushed.json()) as { id: string }

    await waitFor('the rollout to complete', () => co.engine.get(id).state === 'completed', 60_000)
    await waitFor(
      'every cache to be fresh again',
      () => fleet.every((c) => [...c.cache.lru.values()].every((e) => e.state === 'fresh')),
      60_000,
    )
    const refetches = origin.calls.slice(from).map((c) => c.at)
    expect(refetches.length).toBe(N * ENTRIES)
    for (const w of [100, 250, 1000, 3000]) {
      expect(peakIn(refetches, w), `window ${w} ms`).toBeLessThanOrEqual(
        BURST + (RATE * (w + TTL)) / 1000,
      )
    }
    for (const c of fleet) {
      expect(c.stats().applied).toBe(2) // the config snapshot and the change
      expect(await c.get('item:7')).toBe('item:7@v2')
    }
    const view = co.engine.get(id)
    expect(view.delivered).toBe(N)
    expect(view.deliveredCost).toBe(N * ENTRIES)
  })
})

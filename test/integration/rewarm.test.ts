/**
 * Rewarm over real HTTP and SSE: a content-push job submits its keys as
 * NDJSON; every client prefetches them hottest first under leased rewarm
 * tokens (the origin stays within the budget in every window); the change
 * reports keys done / total, the fleet rate and an ETA.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { SlewClient } from '../../src/sdk/index.js'
import { clients, peakIn, startCoordinator, testOrigin, waitFor } from '../helpers/coordinator.js'

const RATE = 400
const BURST = 40
const TTL = 250

describe('rewarm after a content push', () => {
  let fleet: SlewClient<string>[] = []
  let stop: () => Promise<void> = async () => {}
  afterAll(async () => {
    await Promise.all(fleet.map((c) => c.close()))
    await stop()
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
    stop = () => co.close()
    const origin = testOrigin(2)
    fleet = clients<string>(10, {
      url,
      load: origin.load,
      heartbeatMs: 60_000,
      rewarmHeartbeatMs: 200,
    })
    await Promise.all(fleet.map((c) => c.start()))

    const keys = Array.from({ length: 300 }, (_, i) => `page:${i}`)
    const ndjson = [
      JSON.stringify({ kind: 'rewarm', reason: 'content push 42' }),
      ...keys.map((k) => JSON.stringify(k)),
    ].join('\n')
    const pushed = await fetch(`${url}/v1/changes`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: ndjson,
    })
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
    for (const c of fleet) for (const k of keys) expect(c.peek(k)).toMatch(/^page:\d+@v1$/)

    const fetches = origin.calls.map((c) => c.at)
    expect(fetches).toHaveLength(3000)
    for (const w of [100, 500, 1000, 3000]) {
      expect(peakIn(fetches, w), `window ${w} ms`).toBeLessThanOrEqual(
        BURST + (RATE * (w + TTL)) / 1000,
      )
    }
    // Refused whole: a key list over rewarm.maxKeys.
    const tooMany = [
      JSON.stringify({ kind: 'rewarm' }),
      ...Array.from({ length: 1001 }, (_, i) => `k${i}`),
    ].join('\n')
    const refused = await fetch(`${url}/v1/changes`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: tooMany,
    })
    expect(refused.status).toBe(413)
    expect(co.engine.list()).toHaveLength(1)
  })
})

/**
 * 1,000 clients connect at once: admissions in any window stay within
 * burst + rate·T (B3, counted where the coordinator decides); the refused
 * ones come back when told (Retry-After) and all get in.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { SlewClient } from '../../src/sdk/index.js'
import { clients, peakIn, startCoordinator, waitFor } from '../helpers/coordinator.js'

const RATE = 200
const BURST = 100

describe('admission control', () => {
  let fleet: SlewClient<string>[] = []
  let stop: () => Promise<void> = async () => {}
  afterAll(async () => {
    await Promise.all(fleet.map((c) => c.close()))
    await stop()
  })

  it('admits a thundering herd at the admission rate, and everyone gets in', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({ admission: { ratePerSec: RATE, burst: BURST } })
    stop = () => co.close()
    const admitted: number[] = []
    const who = new Set<string>()
    let refused = 0
    co.events.on('admitted', (e) => {
      admitted.push(e.at)
      who.add(e.clientId)
    })
    co.events.on('refused', () => refused++)
    fleet = clients<string>(1000, {
      url,
      load: async (k) => k,
      heartbeatMs: 600_000,
      cache: { max: 10 },
      startTimeoutMs: 30_000,
    })
    await Promise.all(fleet.map((c) => c.start()))
    await waitFor('all connected', () => fleet.every((c) => c.connected))
    // Every client got in (one that lost its stream on a loaded machine may have come back: count clients).
    expect(who.size).toBe(1000)
    expect(refused).toBeGreaterThan(0)
    for (const w of [50, 250, 1000, 2000]) {
      expect(peakIn(admitted, w), `window ${w} ms`).toBeLessThanOrEqual(BURST + (RATE * w) / 1000)
    }
    // By construction it cannot go faster than the admission rate allows.
    const span = Math.max(...admitted) - Math.min(...admitted)
    expect(span).toBeGreaterThanOrEqual(((1000 - BURST) / RATE) * 1000 * 0.95)
  })
})

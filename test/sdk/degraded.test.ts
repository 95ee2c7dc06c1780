/**
 * Degraded mode (S): heartbeats teach each client the fleet's budgets and
 * size, so that when leases cannot be had it refetches at its fair share.
 */
import { describe, expect, it } from 'vitest'
import type { HeartbeatAnswer } from '../../src/protocol/messages.js'
import {
  clients,
  closeAfterAll,
  post,
  startCoordinator,
  testOrigin,
  waitFor,
} from '../helpers/coordinator.js'

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
})

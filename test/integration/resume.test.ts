/**
 * Streams cut mid-rollout, by the server (kick) and by the client
 * (reconnect): after reconnecting, every client has applied every change
 * exactly once (I), resuming from its sequence number.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { Change, SlewClient } from '../../src/sdk/index.js'
import { clients, post, startCoordinator, testOrigin, waitFor } from '../helpers/coordinator.js'

describe('resume after a cut stream', () => {
  let fleet: SlewClient<string>[] = []
  let stop: () => Promise<void> = async () => {}
  afterAll(async () => {
    await Promise.all(fleet.map((c) => c.close()))
    await stop()
  })

  it('every client applies every change exactly once', { timeout: 60_000 }, async () => {
    const { co, url } = await startCoordinator({
      budgets: { invalidate: { ratePerSec: 60, burst: 5 }, config: { ratePerSec: 60, burst: 5 } },
      waves: { steps: [0.2, 0.6, 1], bakeMs: 100 },
      confirmAbove: 1,
    })
    stop = () => co.close()
    const origin = testOrigin(1)
    fleet = clients<string>(30, {
      url,
      load: origin.load,
      heartbeatMs: 60_000,
      reconnect: { baseMs: 20, capMs: 200 },
    })
    let admitted = 0
    co.events.on('admitted', () => admitted++)
    const seen = new Map<string, string[]>()
    for (const c of fleet) {
      seen.set(c.options.clientId, [])
      c.on('change', (ch: Change) => seen.get(c.options.clientId)!.push(ch.id))
    }
    await Promise.all(fleet.map((c) => c.start()))
    for (const c of fleet) await Promise.all(['a', 'b', 'c'].map((k) => c.get(k)))
    await Promise.all(fleet.map((c) => c.heartbeat()))

    const ids: string[] = []
    for (const key of ['a', 'b', 'c']) {
      const r = await post(`${url}/v1/changes`, { kind: 'invalidate', target: { keys: [key] } })
      ids.push(((await r.json()) as { id: string }).id)
    }
    const cfg = await post(`${url}/v1/changes`, {
      kind: 'config',
      values: { 'feature.x': true },
      confirm: true,
      reason: 'test',
    })
    ids.push(((await cfg.json()) as { id: string }).id)

    // Cut streams while the rollouts run: half from the server, half from the client.
    // Whether a rollout was still rolling is noted at each cut (the budget makes the
    // invalidations take over a second; a loaded machine may stretch the rounds past that).
    const rollingAtCut: boolean[] = []
    for (let round = 0; round < 6; round++) {
      await new Promise((r) => setTimeout(r, 120))
      rollingAtCut.push(ids.some((id) => co.engine.get(id).state === 'rolling'))
      for (let i = round % 3; i < fleet.length; i += 3) {
        if (i % 2 === 0) co.kick(fleet[i]!.options.clientId)
        else fleet[i]!.reconnect()
      }
    }
    // Cuts came while changes were still rolling out.
    expect(rollingAtCut.some(Boolean)).toBe(true)
    await waitFor(
      'all rollouts to complete',
      () => ids.every((id) => co.engine.get(id).state === 'completed'),
      30_000,
    )
    await waitFor(
      'every client to have every change',
      () => [...seen.values()].every((s) => s.length >= ids.length),
      30_000,
    )
    await new Promise((r) => setTimeout(r, 300))
    for (const [client, got] of seen) {
      expect([...got].sort(), client).toEqual([...ids].sort())
    }
    for (const c of fleet) expect(c.config.get('feature.x')).toBe(true)
    // Every client reconnected (resuming with Last-Event-ID) at least once.
    expect(admitted).toBeGreaterThanOrEqual(30 + 30)
    expect(co.engine.list().every((r) => r.delivered === 30)).toBe(true)
  })
})

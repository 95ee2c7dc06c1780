/**
 * Heartbeats carry rewarm checkpoints, so they must arrive in order and be
 * accepted: one at a time (a slow one is never overtaken by a newer one),
 * and never more rewarm reports than the coordinator takes (100); with more
 * rewarms running, each gets its turn.
 */
import { describe, expect, it } from 'vitest'
import { createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { closeAfterAll, post, startCoordinator, waitFor } from '../helpers/coordinator.js'
import { startMitm } from '../helpers/mitm.js'

const isBeat = (path: string) => /^\/v1\/clients\/[^/]+\/heartbeat$/.test(path)

describe('heartbeats', () => {
  const closers = closeAfterAll()

  it('report 150 rewarms, at most 100 at a time, one heartbeat at a time', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      budgets: { rewarm: { ratePerSec: 1000, burst: 200 } },
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    closers.push(() => co.close())
    // Every heartbeat takes 150 ms to get through: later ones would overtake it if sent at once.
    const mitm = await startMitm(url, {
      delayMs: (method, path) => (method === 'POST' && isBeat(path) ? 150 : 0),
    })
    closers.push(() => mitm.close())
    const errors: unknown[] = []
    // The origin answers only once all 150 rewarms have arrived: 150 run at once.
    let open!: () => void
    const opened = new Promise<void>((r) => {
      open = r
    })
    let arrived = 0
    const client: SlewClient<string> = createClient<string>({
      url: mitm.url,
      clientId: 'app-0',
      signingKeys: devSigningKeys,
      heartbeatMs: 60_000,
      rewarmHeartbeatMs: 50,
      load: async (key) => {
        await opened
        return `${key}@v1`
      },
    })
    client.on('error', (e) => errors.push(e))
    client.on('change', (c) => {
      if (c.kind === 'rewarm' && ++arrived === 150) open()
    })
    closers.push(() => client.close())
    await client.start()

    const ids: string[] = []
    for (let i = 0; i < 150; i++) {
      const res = await post(`${url}/v1/changes`, {
        kind: 'rewarm',
        target: { keys: [`page:${i}`] },
      })
      expect(res.status).toBe(202)
      ids.push(((await res.json()) as { id: string }).id)
    }
    type Listed = { changes: { id: string; rewarm: { keysDone: number } }[] }
    await waitFor(
      'every rewarm reported done',
      async () => {
        const { changes } = (await (await fetch(`${url}/v1/changes`)).json()) as Listed
        return ids.every((id) => changes.find((c) => c.id === id)?.rewarm.keysDone === 1)
      },
      45_000,
      100,
    )
    expect(errors).toEqual([])

    const beats = mitm.requests.filter((r) => r.method === 'POST' && isBeat(r.path))
    expect(beats.length).toBeGreaterThan(1)
    for (const b of beats) {
      const n = Object.keys((JSON.parse(b.body) as { rewarm?: object }).rewarm ?? {}).length
      expect(n).toBeLessThanOrEqual(100)
    }
    // A field this coordinator does not know (a newer SDK's) is dropped, not refused.
    const newer = await post(`${url}/v1/clients/app-9/heartbeat`, {
      entries: 3,
      fromTheFuture: true,
      rewarm: { [ids[0]!]: { done: 0, total: 1, cursor: 0, alsoNew: 1 } },
    })
    expect(newer.status).toBe(200)
    // Three asked for at once: sent one after another, never two in flight.
    await Promise.all([client.heartbeat(), client.heartbeat(), client.heartbeat()])
    const all = mitm.requests.filter((r) => r.method === 'POST' && isBeat(r.path))
    for (let i = 1; i < all.length; i++) {
      expect(all[i]!.start).toBeGreaterThanOrEqual(all[i - 1]!.end!)
    }
  })
})

/**
 * A client restarted mid-rewarm, with its kept cache and resume point,
 * continues from its checkpoint in the coordinator's store: it refetches
 * exactly the keys it had not settled, none of those it had, and the change
 * reports every key done.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { pushKeys, startCoordinator, waitFor } from '../helpers/coordinator.js'

// Hottest first, as the job lists them (not sorted: a rewarm keeps its order).
const KEYS = Array.from({ length: 200 }, (_, i) => `page:${i}`)

describe('a client restarted in the middle of a rewarm', () => {
  const opened: SlewClient<string>[] = []
  let stop: () => Promise<void> = async () => {}
  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close()))
    await stop()
  })

  it('continues from its checkpoint without refetching what it had done', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      budgets: { rewarm: { ratePerSec: 60, burst: 5 } },
      leases: { ttlMs: 250, maxBatch: 5 },
      waves: { steps: [1], bakeMs: 0 },
      rewarm: { intervalMs: 200, start: 0.5 },
    })
    stop = () => co.close()
    let version = 1
    const loads: { life: number; key: string }[] = []
    const make = (life: number) => {
      const c = createClient<string>({
        url,
        clientId: 'app-0',
        signingKeys: devSigningKeys,
        heartbeatMs: 60_000,
        rewarmHeartbeatMs: 100,
        load: async (key) => {
          loads.push({ life, key })
          await new Promise((r) => setTimeout(r, 2))
          return `${key}@v${version}`
        },
      })
      opened.push(c)
      return c
    }
    const first = make(1)
    await first.start()
    for (const k of KEYS.slice(0, 20)) await first.get(k) // held before the push: old content
    await waitFor('a resume point', () => first.stats().lastSeq !== undefined)
    const resumeFrom = first.stats().lastSeq!

    version = 2
    const pushed = await pushKeys(url, KEYS)
    expect(pushed.status).toBe(202)
    const { id } = (await pushed.json()) as { id: string }
    const change = (await (await fetch(`${url}/v1/changes/${id}`)).json()) as {
      change: { target: { keys: string[] } }
    }
    expect(change.change.target.keys).toEqual(KEYS)
    type Progress = {
      state: string
      rewarm: {
        keysDone: number
        keysTotal: number
        keysOrphaned: number
        clientsGone: number
        etaMs: number
      }
    }
    const progress = async () => (await (await fetch(`${url}/v1/changes/${id}`)).json()) as Progress
    await waitFor('a third of the keys', async () => (await progress()).rewarm.keysDone >= 60)

    // Stop it (its cache kept, as an app server that saves it would) and read its checkpoint.
    const kept = new Map<string, string>()
    for (const k of KEYS) {
      const v = first.peek(k)
      if (v !== undefined) kept.set(k, v)
    }
    await first.close()
    const checkpoint = (await (await fetch(`${url}/v1/clients/app-0/rewarm/${id}`)).json()) as {
      done: number
      total: number
      cursor: number
      ahead?: number[]
    }
    expect(checkpoint.total).toBe(200)
    expect(checkpoint.done).toBeGreaterThanOrEqual(60)
    expect(checkpoint.done).toBeLessThan(200)
    const settled = new Set([
      ...KEYS.slice(0, checkpoint.cursor),
      ...(checkpoint.ahead ?? []).map((i) => KEYS[i]!),
    ])
    expect(settled.size).toBe(checkpoint.done)
    // What it settled, it fetched in its first life, after the push.
    // While it is away, what it had left is orphaned: nothing left to wait for.
    await waitFor('the client to be gone', async () => (await progress()).rewarm.clientsGone === 1)
    expect((await progress()).rewarm).toMatchObject({
      keysDone: checkpoint.done,
      keysOrphaned: 200 - checkpoint.done,
      etaMs: 0,
    })
    const firstLife = new Set(
      loads
        .slice(20)
        .filter((l) => l.life === 1)
        .map((l) => l.key),
    )
    for (const k of settled) expect(firstLife.has(k)).toBe(true)

    // Back, with its kept cache and resume point: the rewarm is replayed to it.
    const second = make(2)
    for (const [k, v] of kept) second.set(k, v)
    await second.start({ since: resumeFrom })
    await waitFor('every key', async () => (await progress()).rewarm.keysDone === 200, 30_000, 50)
    expect((await progress()).rewarm).toMatchObject({
      keysDone: 200,
      keysTotal: 200,
      keysOrphaned: 0,
      clientsGone: 0,
    })

    // It refetched exactly what it had not settled: each once, none of the rest.
    const secondLife = loads.filter((l) => l.life === 2).map((l) => l.key)
    expect([...secondLife].sort()).toEqual(KEYS.filter((k) => !settled.has(k)).sort())
    for (const k of KEYS) expect(second.peek(k)).toBe(`${k}@v2`)
    // A client with no checkpoint asks and gets a clear 404.
    const none = await fetch(`${url}/v1/clients/app-9/rewarm/${id}`)
    expect(none.status).toBe(404)
    expect(await none.json()).toMatchObject({ code: 'E_NOT_FOUND' })
  })
})

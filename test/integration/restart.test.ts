/**
 * An ordinary bad day on the memory store, while the app servers stay up:
 * the coordinator restarts (gracefully, or killed mid-rollout), or comes
 * back with its clock behind. Every push after the restart reaches every
 * client exactly once and the caches serve the new data; the config the
 * fleet runs is adopted, not split; a hard invalidation that was in flight
 * stays hard for the clients it had not reached.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { ConfigInput } from '../../src/config/schema.js'
import { type Coordinator, createCoordinator } from '../../src/coordinator/coordinator.js'
import { realClock } from '../../src/limiter/clock.js'
import type { Clock } from '../../src/model/clock.js'
import { type Change, createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { clients, post, testOrigin, waitFor } from '../helpers/coordinator.js'

const FAST: ConfigInput = {
  budgets: {
    invalidate: { ratePerSec: 10_000, burst: 10_000 },
    config: { ratePerSec: 10_000, burst: 10_000 },
  },
  waves: { steps: [1], bakeMs: 0 },
  confirmAbove: 1,
  stream: { drainMs: 200 },
}

/** A coordinator on a port that outlives it: the next one listens where the clients look. */
const coordinators: Coordinator[] = []
const start = async (port: number, config: ConfigInput = FAST, clock?: Clock) => {
  const co = createCoordinator({
    config,
    log: () => {},
    processMetrics: false,
    ...(clock && { clock }),
  })
  coordinators.push(co)
  const at = await co.listen({ host: '127.0.0.1', port })
  return { co, url: at.url, port: at.port }
}

let fleet: SlewClient<string>[] = []
afterEach(async () => {
  await Promise.all(fleet.map((c) => c.close()))
  fleet = []
  for (const co of coordinators.splice(0)) await co.close()
})

const push = async (url: string, change: Record<string, unknown>) => {
  const res = await post(`${url}/v1/changes`, change)
  expect(res.status).toBe(202)
  return ((await res.json()) as { id: string }).id
}

/** Each client's change events by change id. */
const watch = (cs: SlewClient<string>[]) => {
  const seen = new Map<string, string[]>()
  for (const c of cs) {
    const list: string[] = []
    seen.set(c.options.clientId, list)
    c.on('change', (ch: Change) => list.push(ch.id))
  }
  return seen
}

/** The new coordinator's view of the fleet (a pooled socket to the old one may fail once: retried). */
const connectedTo = async (url: string): Promise<{ connected: number; epoch?: string }> => {
  try {
    return (await (await fetch(`${url}/v1/fleet`)).json()) as { connected: number; epoch: string }
  } catch {
    return { connected: -1 }
  }
}

describe('a memory coordinator restarts while the app servers stay up', () => {
  it('after a graceful restart, every push reaches every client exactly once and the caches serve it; the fleet keeps its config', {
    timeout: 60_000,
  }, async () => {
    const before = await start(0)
    const origin = testOrigin(0)
    const N = 12
    fleet = clients<string>(N, {
      url: before.url,
      load: origin.load,
      heartbeatMs: 60_000,
      reconnect: { baseMs: 20, capMs: 200 },
    })
    const seen = watch(fleet)
    await Promise.all(fleet.map((c) => c.start()))
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6']
    for (const c of fleet) for (const k of keys) await c.get(k)
    const epoch1 = fleet[0]!.stats().epoch
    await push(before.url, { kind: 'config', values: { 'feature.x': 7 } })
    const inv = await push(before.url, { kind: 'invalidate', target: { keys: ['k0'] } })
    await waitFor('both changes everywhere', () =>
      fleet.every(
        (c) => c.config.get('feature.x') === 7 && seen.get(c.options.clientId)!.includes(inv),
      ),
    )
    await Promise.all(fleet.map((c) => c.idle()))

    // SIGTERM's path: goaway to every stream, then a new process on the same port.
    await before.co.shutdown('restart')
    const after = await start(before.port)
    await waitFor('every client back, on the new epoch', async () => {
      const f = await connectedTo(after.url)
      return (
        f.connected === N && fleet.every((c) => c.stats().connected && c.stats().epoch === f.epoch)
      )
    })
    expect(fleet[0]!.stats().epoch).not.toBe(epoch1)
    // The fleet's config, proven by its clients, is the new coordinator's: a new app server gets it.
    await waitFor('the config adopted', () => after.co.engine.stableConfigValues['feature.x'] === 7)
    const [late] = clients<string>(1, { url: after.url, load: origin.load, heartbeatMs: 60_000 })
    await late!.start()
    expect(late!.config.all()).toEqual({ 'feature.x': 7 })
    await late!.close()

    // A push after the restart: a new id (never chg-1 again), applied once by every client.
    origin.bump()
    const id = await push(after.url, { kind: 'invalidate', target: { all: true } })
    expect(id).not.toBe(inv)
    await waitFor('the push at every client', () =>
      fleet.every((c) => seen.get(c.options.clientId)!.includes(id)),
    )
    await Promise.all(fleet.map((c) => c.idle()))
    for (const c of fleet) {
      expect(seen.get(c.options.clientId)!.filter((x) => x === id)).toHaveLength(1)
      expect(c.stats().rejected).toEqual({})
      for (const k of keys) expect(await c.get(k)).toBe(`${k}@v2`)
    }
    // And the rollout says where it went.
    const view = (await (await fetch(`${after.url}/v1/changes/${id}`)).json()) as {
      state: string
      delivered: number
      refused: number
    }
    expect(view).toMatchObject({ state: 'completed', delivered: N, refused: 0 })
  })
})

describe('a memory coordinator killed mid-rollout', () => {
  it('a hard invalidation in flight stays hard for the clients it had not reached', {
    timeout: 60_000,
  }, async () => {
    // Slow waves: the first reaches a quarter of the clients, then the process dies (no goaway).
    const slow: ConfigInput = { ...FAST, waves: { steps: [0.25, 1], bakeMs: 60_000 } }
    const before = await start(0, slow)
    // Once the price changed, the origin takes 1.5 s to answer it: long enough to see whether
    // a client serves the old price meanwhile (soft) or not (hard).
    let version = 1
    const load = async (key: string) => {
      if (key === 'price' && version > 1) await new Promise((r) => setTimeout(r, 1500))
      return `${key}@v${version}`
    }
    const N = 16
    fleet = clients<string>(N, {
      url: before.url,
      load,
      heartbeatMs: 60_000,
      reconnect: { baseMs: 20, capMs: 200 },
    })
    const seen = watch(fleet)
    await Promise.all(fleet.map((c) => c.start()))
    for (const c of fleet) await c.get('price')
    // The price changes, then the push says so: the clients it reaches refetch the new one.
    version = 2
    const id = await push(before.url, {
      kind: 'invalidate',
      target: { keys: ['price'] },
      mode: 'hard',
    })
    const reached = () => fleet.filter((c) => seen.get(c.options.clientId)!.includes(id))
    await waitFor('the first wave', () => reached().length > 0)
    const first = new Set(reached().map((c) => c.options.clientId))
    expect(first.size).toBeLessThan(N)

    await before.co.close() // killed: nothing said to anyone
    const after = await start(before.port, slow)
    await waitFor('every client back', async () => (await connectedTo(after.url)).connected === N)
    // The clients that got it proved it; the new coordinator rolls it out again, under its id,
    // at the budget's pace (it was already going out).
    await waitFor('the recovered rollout to complete', () =>
      after.co.engine.list().some((r) => r.id === id && r.state === 'completed'),
    )
    // Those it had not reached do not serve the old price while it is refetched: it is dead.
    for (const c of fleet) {
      if (first.has(c.options.clientId)) continue
      expect(c.peek('price')).not.toBe('price@v1')
    }
    // Everyone ends on the new price (a stale read may answer once while its refetch runs).
    for (const c of fleet)
      await waitFor(
        `${c.options.clientId} on the new price`,
        async () => (await c.get('price')) === 'price@v2',
      )
    // Applied at most once anywhere: those that had it took the new rollout as a duplicate, and so
    // did those whose reset named it (clients back after the proof came).
    for (const c of fleet)
      expect(seen.get(c.options.clientId)!.filter((x) => x === id).length).toBeLessThanOrEqual(1)
    expect(fleet.reduce((n, c) => n + c.stats().duplicates, 0)).toBeGreaterThanOrEqual(first.size)
  })
})

describe('a coordinator whose clock is behind', () => {
  it('is followed anyway: its reset and changes are not taken for replays', {
    timeout: 60_000,
  }, async () => {
    const before = await start(0)
    const origin = testOrigin(0)
    fleet = clients<string>(4, {
      url: before.url,
      load: origin.load,
      heartbeatMs: 60_000,
      reconnect: { baseMs: 20, capMs: 200 },
    })
    const seen = watch(fleet)
    await Promise.all(fleet.map((c) => c.start()))
    for (const c of fleet) await c.get('a')
    await before.co.shutdown('restart')
    // An hour behind: its sequence numbers are all below the ones the clients hold.
    const behind: Clock = { now: () => realClock.now() - 3_600_000, setTimer: realClock.setTimer }
    const after = await start(before.port, FAST, behind)
    const lastSeqs = fleet.map((c) => c.stats().lastSeq!)
    await waitFor('every client back', async () => (await connectedTo(after.url)).connected === 4)
    origin.bump()
    const id = await push(after.url, { kind: 'invalidate', target: { keys: ['a'] } })
    await waitFor('the change everywhere', () =>
      fleet.every((c) => seen.get(c.options.clientId)!.includes(id)),
    )
    await Promise.all(fleet.map((c) => c.idle()))
    for (const [i, c] of fleet.entries()) {
      expect(c.stats().rejected).toEqual({})
      expect(c.stats().lastSeq!).toBeLessThan(lastSeqs[i]!)
      expect(await c.get('a')).toBe('a@v2')
    }
  })
})

describe('a fleet name that differs', () => {
  it('is learned when the client names none, and refused with E_WRONG_FLEET when it names another', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await start(0, { ...FAST, fleet: 'checkout' })
    const origin = testOrigin(0)
    // The client of the README and docs/sdk.md: no fleet option.
    fleet = clients<string>(3, { url, load: origin.load, heartbeatMs: 60_000 })
    await Promise.all(fleet.map((c) => c.start()))
    for (const c of fleet) expect(c.stats()).toMatchObject({ fleet: 'checkout', healthy: true })
    for (const c of fleet) await c.get('a')
    origin.bump()
    const id = await push(url, { kind: 'invalidate', target: { all: true } })
    await waitFor('applied everywhere', () => fleet.every((c) => c.stats().applied === 2))
    await Promise.all(fleet.map((c) => c.idle()))
    for (const c of fleet) expect(await c.get('a')).toBe('a@v2')
    expect(co.engine.get(id).delivered).toBe(3)

    // One that names another fleet learns it at start(), by name, and is not counted in.
    const wrong = createClient<string>({
      url,
      clientId: 'stray',
      signingKeys: devSigningKeys,
      load: origin.load,
      fleet: 'default',
      heartbeatMs: 60_000,
      reconnect: { baseMs: 50, capMs: 100 },
    })
    fleet.push(wrong)
    const error = await wrong.start().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ code: 'E_WRONG_FLEET', expected: 'default', got: 'checkout' })
    expect(String((error as Error).message)).toContain('checkout')
    expect(wrong.stats().healthy).toBe(false)
    const f = (await (await fetch(`${url}/v1/fleet`)).json()) as {
      connected: number
      turnedAway: { clientId: string; reason: string }[]
    }
    expect(f.connected).toBe(3)
    expect(f.turnedAway).toMatchObject([
      { clientId: wrong.options.clientId, reason: 'wrong-fleet' },
    ])
  })
})

/**
 * The SDK's token source: coordinator leases, and in degraded mode a local
 * GCRA bucket at the client's fair share of the last known budget, on a
 * virtual clock. The coordinator's side of each case is a function here;
 * test/sdk/degraded.test.ts runs the same against a real coordinator.
 */
import { createServer } from 'node:net'
import { beforeAll, describe, expect, it } from 'vitest'
import { HttpError } from '../../src/errors.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'
import type { TokenClass } from '../../src/model/budget.js'
import type { LeaseResponse } from '../../src/protocol/messages.js'
import { postJson } from '../../src/sdk/http.js'
import { DEFAULT_SHARE, fairShare, Leases, unreachable } from '../../src/sdk/leases.js'
import { peakIn } from '../helpers/coordinator.js'

/** What the SDK's call throws for a port nobody listens on (a real one, caught once). */
let refused: unknown
/** And for a server that takes the connection and never answers. */
let timedOut: unknown
beforeAll(async () => {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  await new Promise((r) => server.close(r))
  refused = await postJson({ url: `http://127.0.0.1:${port}` }, '/v1/leases', {}).catch((e) => e)
  const silent = createServer(() => {})
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`
  timedOut = await postJson({ url }, '/v1/leases', {}, { timeoutMs: 50 }).catch((e) => e)
  silent.close()
})

const terms = {
  budgets: {
    invalidate: { ratePerSec: 30, burst: 6 },
    rewarm: { ratePerSec: 3, burst: 1 },
    urgent: { ratePerSec: 300, burst: 60 },
  },
  fleetSize: 3,
  leaseTtlMs: 400,
}

/** Leases over `answer`, on a virtual clock, recording calls and events. */
const setup = (answer: (want: number, cls: TokenClass) => Promise<LeaseResponse>) => {
  const clock = new VirtualClock(1_000_000)
  const calls: { want: number; cls: TokenClass; timeoutMs: number }[] = []
  const events: string[] = []
  const leases = new Leases({
    clock,
    random: () => 0.5,
    remote: (want, cls, timeoutMs) => {
      calls.push({ want, cls, timeoutMs })
      return answer(want, cls)
    },
    degraded: () => events.push('degraded'),
    recovered: () => events.push('recovered'),
  })
  return { clock, calls, events, leases }
}

describe('fairShare', () => {
  it('splits rate and burst n ways, the burst never below one token', () => {
    expect(fairShare({ ratePerSec: 30, burst: 6 }, 3)).toEqual({ ratePerSec: 10, burst: 2 })
    expect(fairShare({ ratePerSec: 30, burst: 6 }, 10)).toEqual({ ratePerSec: 3, burst: 1 })
    // A client not counted yet (its stream not open) is still one client.
    expect(fairShare({ ratePerSec: 30, burst: 6 }, 0)).toEqual({ ratePerSec: 30, burst: 6 })
  })
})

describe('unreachable', () => {
  it('is no answer, a timeout or a 5xx; never what a coordinator answered', async () => {
    expect((refused as NodeJS.ErrnoException).code).toBe('ECONNREFUSED')
    expect(unreachable(refused)).toBe(true)
    expect((timedOut as Error).name).toBe('TimeoutError')
    expect(unreachable(timedOut)).toBe(true)
    expect(unreachable(new HttpError(503, 'E_STORE_UNAVAILABLE', 'down'))).toBe(true)
    expect(unreachable(new HttpError(502, 'HTTP_502', 'bad gateway'))).toBe(true)
    for (const status of [400, 401, 403, 429])
      expect(unreachable(new HttpError(status, `HTTP_${status}`, 'no'))).toBe(false)
  })
})

describe('Leases', () => {
  it('passes a budget refusal on as it is: not degraded', async () => {
    const { leases, events } = setup(async () => ({ granted: 0, ttlMs: 400, retryAfterMs: 5000 }))
    expect(await leases.lease(5, 'invalidate')).toEqual({
      granted: 0,
      ttlMs: 400,
      retryAfterMs: 5000,
    })
    expect(leases.degraded).toBe(false)
    expect(leases.localTokensUsed).toBe(0)
    expect(events).toEqual([])
  })

  it('throws a 4xx at the caller: a coordinator that refuses is not an absent one', async () => {
    const { leases } = setup(async () => {
      throw new HttpError(403, 'E_FORBIDDEN', 'not yours')
    })
    await expect(leases.lease(1, 'invalidate')).rejects.toBeInstanceOf(HttpError)
    expect(leases.degraded).toBe(false)
  })

  it('with no terms heard, refetches at one token a second per class', async () => {
    const { leases, clock, events } = setup(async () => {
      throw refused
    })
    expect(leases.share('invalidate')).toEqual(DEFAULT_SHARE)
    expect(await leases.lease(20, 'invalidate')).toMatchObject({ granted: 1 })
    expect(events).toEqual(['degraded'])
    const next = await leases.lease(20, 'invalidate')
    expect(next.granted).toBe(0)
    expect(next.retryAfterMs).toBeCloseTo(1000, 0)
    // Each class has its own bucket.
    expect(await leases.lease(20, 'rewarm')).toMatchObject({ granted: 1 })
    clock.advance(1000)
    expect(await leases.lease(20, 'invalidate')).toMatchObject({ granted: 1 })
    expect(leases.localTokensUsed).toBe(3)
    expect(events).toEqual(['degraded'])
  })

  it('grants locally only what is wanted at once: tokens asked ahead would expire unused', async () => {
    const { leases } = setup(async () => {
      throw refused
    })
    leases.learn({ ok: true, seq: 7, ...terms })
    // 1 refetch waiting for a token, 19 queued behind the slots: 1, though the share's burst is 2.
    expect(await leases.lease(20, 'invalidate', 19)).toMatchObject({ granted: 1 })
    expect(leases.localTokensUsed).toBe(1)
    // The other token of the burst is still there for the next refetch.
    expect(await leases.lease(1, 'invalidate')).toMatchObject({ granted: 1 })
  })

  it('keeps each window within its share: burst/n + rate/n · T', async () => {
    const { leases, clock, calls } = setup(async () => {
      throw refused
    })
    leases.learn({ ok: true, seq: 7, ...terms })
    expect(leases.share('invalidate')).toEqual({ ratePerSec: 10, burst: 2 })
    expect(leases.share('rewarm')).toEqual({ ratePerSec: 1, burst: 1 })
    // Asking as fast as it can for 10 s (every 10 ms, 20 at a time).
    const granted: number[] = []
    for (let i = 0; i < 1000; i++) {
      const g = await leases.lease(20, 'invalidate')
      for (let k = 0; k < g.granted; k++) granted.push(clock.now())
      // A local token is for now, not to be saved up.
      if (g.granted > 0) expect(g.ttlMs).toBeLessThanOrEqual(1)
      clock.advance(10)
    }
    expect(granted.length).toBeGreaterThanOrEqual(100)
    expect(granted.length).toBeLessThanOrEqual(2 + 10 * 10)
    for (const windowMs of [1, 100, 500, 1000, 3000])
      expect(peakIn(granted, windowMs)).toBeLessThanOrEqual(2 + (10 * windowMs) / 1000)
    // The coordinator was asked again now and then (1 s to 10 s apart, jittered), not every time.
    expect(calls.length).toBeGreaterThan(2)
    expect(calls.length).toBeLessThan(20)
    expect(calls.every((c) => c.timeoutMs === 1000)).toBe(true)
  })

  it('back to leases once the coordinator answers again; a heartbeat answer makes it ask at once', async () => {
    let up = false
    const { leases, clock, calls, events } = setup(async (want) => {
      if (!up) throw new HttpError(503, 'E_STORE_UNAVAILABLE', 'no store')
      return { granted: want, ttlMs: 2500, retryAfterMs: 0 }
    })
    await leases.lease(1, 'invalidate')
    expect(leases.degraded).toBe(true)
    const asked = calls.length
    // Before its probe is due, a lease is local only.
    await leases.lease(1, 'invalidate')
    expect(calls.length).toBe(asked)
    up = true
    leases.learn({ ok: true, seq: 8 })
    clock.advance(1)
    expect(await leases.lease(4, 'urgent')).toEqual({ granted: 4, ttlMs: 2500, retryAfterMs: 0 })
    expect(leases.degraded).toBe(false)
    expect(events).toEqual(['degraded', 'recovered'])
    // The lease TTL heard from a grant sets how long a call may take, when longer than 1 s.
    await leases.lease(1, 'invalidate')
    expect(calls.at(-1)!.timeoutMs).toBe(2500)
  })

  it('ignores terms that are not valid, and keeps the last good ones', async () => {
    const { leases } = setup(async () => ({ granted: 1, ttlMs: 400, retryAfterMs: 0 }))
    leases.learn({ ok: true, seq: 1, ...terms })
    leases.learn({ ok: true, seq: 2, ...terms, fleetSize: -1 })
    leases.learn({ ok: true, seq: 3, budgets: { invalidate: { ratePerSec: 1e9, burst: 0 } } })
    leases.learn('not json at all')
    expect(leases.share('invalidate')).toEqual({ ratePerSec: 10, burst: 2 })
    leases.learn({ ok: true, seq: 4, fleetSize: 6 })
    expect(leases.share('invalidate')).toEqual({ ratePerSec: 5, burst: 1 })
  })
})

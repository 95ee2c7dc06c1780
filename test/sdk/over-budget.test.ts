/**
 * onOverBudget: a reader of a hard-invalidated key that finds no refetch
 * token within refetch.maxWaitMs is shed at once (OverBudgetError) or
 * answered by the app's fallback; the origin is not called for it.
 */
import { describe, expect, it } from 'vitest'
import {
  createClient,
  devSigningKeys,
  OverBudgetError,
  type SlewClient,
} from '../../src/sdk/index.js'
import {
  closeAfterAll,
  post,
  startCoordinator,
  testOrigin,
  waitFor,
} from '../helpers/coordinator.js'

/**
 * Make the invalidate budget scarce once its burst is earned: a coordinator starts with its
 * budgets empty (it may have spent them just before a restart), so it starts at a fast rate,
 * waits for its burst, then slows to `budget` (the buckets keep their state).
 */
const scarce = async (url: string, budget: { ratePerSec: number; burst: number }) => {
  await new Promise((r) => setTimeout(r, 20))
  const res = await fetch(`${url}/v1/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ config: { budgets: { invalidate: budget } }, reason: 'scarce tokens' }),
  })
  expect(res.status).toBe(200)
}

describe('over budget', () => {
  const closers = closeAfterAll()

  it('sheds quickly, or answers with the fallback, and leaves the origin alone', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      budgets: { invalidate: { ratePerSec: 1000, burst: 2 } },
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    closers.push(() => co.close())
    // Two tokens (and two deliveries) at once, then one per 10 s: a third reader cannot get one in time.
    await scarce(url, { ratePerSec: 0.1, burst: 2 })
    const origin = testOrigin(1)
    const make = (id: string, onOverBudget?: (k: string) => string) => {
      const c: SlewClient<string> = createClient<string>({
        url,
        clientId: id,
        signingKeys: devSigningKeys,
        load: origin.load,
        // Long enough for a lease round trip on a loaded machine; far shorter than the 10 s refill.
        refetch: { maxWaitMs: 1000, background: false },
        ...(onOverBudget && { onOverBudget }),
      })
      closers.push(() => c.close())
      return c
    }
    const failing = make('fails')
    let fallbacks = 0
    const falling = make('falls-back', (k) => {
      // The second time, the fallback itself fails (it throws, synchronously).
      if (++fallbacks > 1) throw new Error(`no fallback for ${k} either`)
      return `fallback for ${k}`
    })
    for (const c of [failing, falling]) {
      await c.start()
      for (const k of ['a', 'b']) await c.get(k)
    }
    await post(`${url}/v1/changes`, {
      kind: 'invalidate',
      target: { keys: ['a', 'b'] },
      mode: 'hard',
    })
    await waitFor(
      'both applied',
      () => failing.stats().applied === 2 && falling.stats().applied === 2,
    )
    const before = origin.calls.length
    // The two tokens go to the first two hard misses; the next ones are shed after 1 s.
    expect(await failing.get('a')).toBe('a@v1')
    expect(await falling.get('a')).toBe('a@v1')
    const started = Date.now()
    await expect(failing.get('b')).rejects.toBeInstanceOf(OverBudgetError)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(await falling.get('b')).toBe('fallback for b')
    // A fallback that throws fails that read only (an uncaught throw would fail this test run).
    await expect(falling.get('b')).rejects.toThrow('no fallback for b either')
    await new Promise((r) => setTimeout(r, 200))
    expect(origin.calls.length).toBe(before + 2)
  })

  it('sheds after 5 s when refetch.maxWaitMs is not set: a reader never waits for good', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      budgets: { invalidate: { ratePerSec: 1000, burst: 1 } },
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    closers.push(() => co.close())
    // One token (and one delivery) at once, then one per 100 s.
    await scarce(url, { ratePerSec: 0.01, burst: 1 })
    const origin = testOrigin(1)
    const c: SlewClient<string> = createClient<string>({
      url,
      clientId: 'waits',
      signingKeys: devSigningKeys,
      load: origin.load,
      refetch: { background: false },
    })
    closers.push(() => c.close())
    await c.start()
    expect(c.options.refetch.maxWaitMs).toBe(5000)
    await c.get('a')
    await post(`${url}/v1/changes`, { kind: 'invalidate', target: { keys: ['a'] }, mode: 'hard' })
    await waitFor('applied', () => c.stats().applied === 2)
    // Someone else took the one token there was.
    const taken = await post(`${url}/v1/leases`, { clientId: 'other', want: 1 })
    expect(await taken.json()).toMatchObject({ granted: 1 })
    const before = origin.calls.length
    const started = Date.now()
    await expect(c.get('a')).rejects.toBeInstanceOf(OverBudgetError)
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(4900)
    expect(waited).toBeLessThan(8000)
    expect(origin.calls.length).toBe(before)
  })
})

/**
 * A rewarm's keys are queued for refetch a window at a time (QUEUED_AT_ONCE),
 * the next as each settles: a hot set several windows long is fetched
 * whole, each key once, in its order (hottest first), and the coordinator's
 * progress counts every key done.
 */
import { describe, expect, it } from 'vitest'
import { QUEUED_AT_ONCE } from '../../src/sdk/rewarms.js'
import {
  clients,
  closeAfterAll,
  startCoordinator,
  testOrigin,
  waitFor,
} from '../helpers/coordinator.js'

const KEYS = 3 * QUEUED_AT_ONCE + 17

describe("a rewarm's queue", () => {
  const closers = closeAfterAll()

  it('is fed a window at a time, and the whole hot set is fetched, in order, once each', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      budgets: { rewarm: { ratePerSec: 20_000, burst: 2_000 } },
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    closers.push(() => co.close())
    const origin = testOrigin(1)
    const hot = Array.from({ length: KEYS }, (_, i) => `hot:${i}`)
    const [app] = clients<string>(1, {
      url,
      load: origin.load,
      heartbeatMs: 60_000,
      rewarmHeartbeatMs: 100,
      cache: { max: 2 * KEYS },
      hotKeys: () => hot,
    })
    closers.push(() => app!.close())
    await app!.start()
    const res = await fetch(`${url}/v1/changes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'rewarm', target: { hotSet: true } }),
    })
    expect(res.status).toBe(202)
    const { id } = (await res.json()) as { id: string }
    const done = async () =>
      (
        (await (await fetch(`${url}/v1/changes/${id}`)).json()) as {
          rewarm: { keysDone: number; keysTotal: number }
        }
      ).rewarm
    await waitFor('the hot set', async () => (await done()).keysDone === KEYS)
    expect((await done()).keysTotal).toBe(KEYS)
    // Started in the hot set's order (one priority, first in first out), each once.
    expect(origin.calls.map((c) => c.key)).toEqual(hot)
    for (const k of hot) expect(app!.peek(k)).toBe(`${k}@v1`)
  })
})

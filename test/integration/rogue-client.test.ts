/**
 * One rogue client must not hurt the fleet (issue 12, item 1). A client's
 * figures are its own word: a cache size of 2^53 − 1, a refusal count as
 * large, a thousand business metrics. Beyond plausible ranges they are
 * refused (400, nothing changed) or clamped; and however big a client says
 * it is, one delivery to it costs at most its class's burst, so it cannot put
 * the class into debt: a later one-key push to an ordinary client goes out
 * within its budgeted time.
 *
 * Before the fix (commit 443d3ba): the stream and the heartbeat took 2^53 − 1
 * entries (200); a client of 1e9 entries cost 1e9 units, the invalidate
 * bucket went 2e9 ms (23 days) into debt and the one-key push below stayed
 * `rolling`, delivered 0, for good.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CoordinatorState } from '../../src/coordinator/inspect.js'
import {
  metricValue,
  openStream,
  post,
  scrape,
  startCoordinator,
  waitFor,
} from '../helpers/coordinator.js'

const HUGE = 2 ** 53 - 1
const RATE = 500
const BURST = 500

let url = ''
let stop: () => Promise<void> = async () => {}
let inspect: () => Promise<CoordinatorState> = async () => {
  throw new Error('not started')
}

beforeAll(async () => {
  const { co, url: u } = await startCoordinator({
    budgets: { invalidate: { ratePerSec: RATE, burst: BURST } },
    waves: { steps: [1], bakeMs: 0 },
    confirmAbove: 1,
  })
  url = u
  stop = () => co.close()
  inspect = () => co.inspect()
  co.engine.join('app-1', { entries: 10 })
  co.engine.leave('app-1')
})
afterAll(() => stop())

const heartbeat = (body: unknown) => post(`${url}/v1/clients/app-1/heartbeat`, body)

describe('figures beyond plausible ranges are refused, and change nothing', () => {
  const cases: [string, () => Promise<Response>][] = [
    ['a stream with 2^53 − 1 entries', () => fetch(`${url}/v1/stream?clientId=r&entries=${HUGE}`)],
    ['a heartbeat with 2^53 − 1 entries', () => heartbeat({ entries: HUGE })],
    ['a heartbeat with 1e9 + 1 entries', () => heartbeat({ entries: 1e9 + 1 })],
    ['a heartbeat with a capacity of 2^53 − 1', () => heartbeat({ entries: 1, capacity: HUGE })],
    [
      'a heartbeat with 101 business metrics',
      () =>
        heartbeat({
          metrics: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`m${i}`, 1])),
        }),
    ],
    ['a heartbeat with a metric of 1e300', () => heartbeat({ metrics: { orders: 1e300 } })],
    ['a heartbeat with a metric of an empty name', () => heartbeat({ metrics: { '': 1 } })],
  ]
  it.each(cases)('%s: 400 E_INVALID_OPTION', async (_name, send) => {
    const before = await inspect()
    const res = await send()
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(((await res.json()) as { code: string }).code).toBe('E_INVALID_OPTION')
    expect(await inspect()).toEqual(before)
  })
})

describe('counts beyond plausible ranges are clamped', () => {
  it('counts at most 1e6 refusals of one reason per heartbeat, and a streak of at most 1e9', async () => {
    const at = (t: string) =>
      metricValue(t, 'slew_client_rejected_messages_total', { reason: 'malformed' }) ?? 0
    const before = at(await scrape(url))
    const res = await heartbeat({
      rejected: { malformed: HUGE },
      refusing: { reason: 'malformed', count: HUGE },
    })
    expect(res.status).toBe(200)
    expect(at(await scrape(url)) - before).toBe(1e6)
    const health = (await inspect()).fleet.health['app-1'] as { refusing?: { count: number } }
    expect(health.refusing?.count).toBe(1e9)
  })
})

describe('the largest client cannot put its class into debt', () => {
  it('costs at most one burst; a one-key push to an ordinary client then goes out within its budgeted time', {
    timeout: 30_000,
  }, async () => {
    // The largest cache the coordinator accepts, on the stream as the reporter did.
    const rogue = await openStream(url, 'rogue', { query: '&entries=1000000000' })
    expect(rogue.status).toBe(200)
    const all = await post(`${url}/v1/changes`, {
      kind: 'invalidate',
      target: { tags: ['catalog'] },
      reason: 'rogue',
    })
    expect(all.status).toBe(202)
    const { id: allId } = (await all.json()) as { id: string }
    await waitFor('the tag push to reach the rogue client', () => rogue.of('change').length === 1)
    const tagged = (await (await fetch(`${url}/v1/changes/${allId}`)).json()) as {
      deliveredCost: number
    }
    await rogue.close()

    const app = await openStream(url, 'app-ordinary', { query: '&entries=1' })
    const pushedAt = Date.now()
    const one = await post(`${url}/v1/changes`, { kind: 'invalidate', target: { keys: ['k'] } })
    const { id } = (await one.json()) as { id: string }
    // Budgeted: the bucket is at worst empty (one burst spent), and one unit comes in 1/rate s.
    const budgetedMs = ((BURST + 1) / RATE) * 1000
    await waitFor(
      'the one-key push to reach the ordinary client',
      () => app.of('change').length === 1,
      budgetedMs + 2000,
    )
    const took = Date.now() - pushedAt
    expect(took).toBeLessThan(budgetedMs + 1000)
    const view = (await (await fetch(`${url}/v1/changes/${id}`)).json()) as {
      state: string
      delivered: number
    }
    expect(view).toMatchObject({ state: 'completed', delivered: 1 })
    // Before: 1e9 units, which left the bucket 2e9 ms in debt.
    expect(tagged.deliveredCost).toBe(BURST)
    await app.close()
  })
})

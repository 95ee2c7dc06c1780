/**
 * GET /metrics (Prometheus text): the series for deliveries, budget tokens,
 * stream connections, admissions (admitted and refused) and rollout states
 * are there, and their values follow what happens: streams open and close,
 * a refusal, a lease, a rollout that runs, pauses, aborts, and one that
 * completes.
 */
import { describe, expect, it } from 'vitest'
import {
  closeAfterAll,
  metricValue,
  openStream,
  post,
  scrape,
  startCoordinator,
  waitFor,
} from '../helpers/coordinator.js'

const closers = closeAfterAll()

describe('/metrics', () => {
  it('exposes every series, with values that move as a rollout runs', {
    timeout: 30_000,
  }, async () => {
    // Two streams may come in at once; the next only after 10 s.
    const { co, url } = await startCoordinator({ admission: { ratePerSec: 0.1, burst: 2 } })
    closers.push(() => co.close())
    const res = await fetch(`${url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const m0 = await res.text()
    for (const name of [
      'slew_deliveries_total',
      'slew_delivered_cost_total',
      'slew_budget_tokens_granted_total',
      'slew_lease_requests_total',
      'slew_stream_connections',
      'slew_stream_admissions_total',
      'slew_stream_admissions_refused_total',
      'slew_rollouts',
      'slew_events_signed_total',
    ]) {
      expect(m0, name).toContain(`# TYPE ${name} `)
    }
    expect(metricValue(m0, 'slew_stream_connections')).toBe(0)
    expect(metricValue(m0, 'slew_stream_admissions_total')).toBe(0)
    expect(metricValue(m0, 'slew_stream_admissions_refused_total')).toBe(0)
    expect(metricValue(m0, 'slew_deliveries_total', { class: 'invalidate' })).toBeUndefined()

    // Streams: two admitted, the third refused.
    const a = await openStream(url, 'm-a')
    const b = await openStream(url, 'm-b')
    const c = await openStream(url, 'm-c')
    closers.push(
      () => a.close(),
      () => b.close(),
    )
    expect([a.status, b.status, c.status]).toEqual([200, 200, 503])
    const m1 = await scrape(url)
    expect(metricValue(m1, 'slew_stream_connections')).toBe(2)
    expect(metricValue(m1, 'slew_stream_admissions_total')).toBe(2)
    expect(metricValue(m1, 'slew_stream_admissions_refused_total')).toBe(1)

    // Budget tokens: a lease grants some, and they are counted.
    const lease = await post(`${url}/v1/leases`, { clientId: 'm-a', want: 3 })
    const { granted } = (await lease.json()) as { granted: number }
    expect(granted).toBeGreaterThan(0)
    const m2 = await scrape(url)
    expect(metricValue(m2, 'slew_budget_tokens_granted_total', { class: 'invalidate' })).toBe(
      granted,
    )
    expect(
      metricValue(m2, 'slew_lease_requests_total', { class: 'invalidate', granted: 'yes' }),
    ).toBe(1)

    // A rollout in two waves with a long bake: rolling, then paused, then aborted.
    const first = await post(`${url}/v1/changes`, {
      kind: 'invalidate',
      target: { keys: ['sku:1'] },
      waves: { steps: [0.5, 1], bakeMs: 600_000 },
    })
    expect(first.status).toBe(202)
    const { id } = (await first.json()) as { id: string }
    const rollouts = async () => {
      const text = await scrape(url)
      return Object.fromEntries(
        ['planned', 'rolling', 'paused', 'completed', 'aborted'].map((s) => [
          s,
          metricValue(text, 'slew_rollouts', { state: s }) ?? 0,
        ]),
      )
    }
    expect(await rollouts()).toMatchObject({ rolling: 1, paused: 0, aborted: 0 })
    expect((await post(`${url}/v1/changes/${id}/pause`, {})).status).toBe(200)
    expect(await rollouts()).toMatchObject({ rolling: 0, paused: 1, aborted: 0 })
    expect((await post(`${url}/v1/changes/${id}/abort`, {})).status).toBe(200)
    expect(await rollouts()).toMatchObject({ rolling: 0, paused: 0, aborted: 1 })

    // A rollout that completes: delivered to both streams, counted as it goes.
    const second = await post(`${url}/v1/changes`, {
      kind: 'invalidate',
      target: { keys: ['sku:2'] },
      waves: { steps: [1], bakeMs: 0 },
    })
    expect(second.status).toBe(202)
    const { id: id2 } = (await second.json()) as { id: string }
    const got = (s: typeof a, changeId: string) =>
      s
        .of('change')
        .some((e) => (JSON.parse(e.data) as { change: { id: string } }).change.id === changeId)
    await waitFor('the second change at both streams', () => got(a, id2) && got(b, id2))
    await waitFor('the second rollout to complete', async () => (await rollouts()).completed === 1)
    expect(await rollouts()).toMatchObject({ rolling: 0, completed: 1, aborted: 1 })
    const m3 = await scrape(url)
    // Every delivery counted once: as many as change events on the streams.
    const seen = a.of('change').length + b.of('change').length
    expect(metricValue(m3, 'slew_deliveries_total', { class: 'invalidate' })).toBe(seen)
    expect(metricValue(m3, 'slew_delivered_cost_total', { class: 'invalidate' })).toBeGreaterThan(0)

    // A stream that closes leaves the gauge.
    await a.close()
    await waitFor(
      'one stream left',
      async () => metricValue(await scrape(url), 'slew_stream_connections') === 1,
    )
  })
})

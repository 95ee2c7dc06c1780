/**
 * Admission refusals: `503 E_OVERLOADED` with a jittered `Retry-After`. Each
 * refused client is promised its own future slot at the admission rate plus
 * up to one slot of jitter (docs/api.md, "The stream"), so many refusals get
 * Retry-After values that differ and lie within that range.
 */
import { describe, expect, it } from 'vitest'
import {
  closeAfterAll,
  metricValue,
  openStream,
  scrape,
  startCoordinator,
} from '../helpers/coordinator.js'

const closers = closeAfterAll()

const RATE = 5
const SLOT = 1000 / RATE
const HERD = 60

describe('admission refusal', () => {
  it('answers 503 with a Retry-After of its own slot, jittered, for each refused client', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({ admission: { ratePerSec: RATE, burst: 1 } })
    closers.push(() => co.close())
    const refusals: { at: number; retryAfterMs: number }[] = []
    co.events.on('refused', (e) => refusals.push(e))

    const streams = await Promise.all(
      Array.from({ length: HERD }, (_, i) => openStream(url, `herd-${i}`)),
    )
    closers.push(async () => {
      await Promise.all(streams.map((s) => s.close()))
    })
    const refused = streams.filter((s) => s.status === 503)
    const admitted = streams.filter((s) => s.status === 200)
    expect(refused.length + admitted.length).toBe(HERD)
    // burst 1 at 5/s: all but a few are refused however slowly the herd arrives (< 8 s).
    expect(refused.length).toBeGreaterThanOrEqual(20)
    expect(refusals).toHaveLength(refused.length)

    const fromHttp: number[] = []
    for (const r of refused) {
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/)
      const p = JSON.parse(r.body!) as { code: string; status: number; retryAfterMs: number }
      expect(p).toMatchObject({ code: 'E_OVERLOADED', status: 503 })
      const header = r.headers.get('retry-after')!
      expect(header).toMatch(/^[1-9]\d*$/)
      // The header is the body's retryAfterMs in whole seconds, rounded up.
      expect(Number(header)).toBe(Math.ceil(p.retryAfterMs / 1000))
      fromHttp.push(p.retryAfterMs)
    }
    // What the clients were told is what the coordinator decided.
    expect([...fromHttp].sort((a, b) => a - b)).toEqual(
      refusals.map((r) => r.retryAfterMs).sort((a, b) => a - b),
    )

    // Not all equal: neither the Retry-After headers nor the exact delays.
    const headers = new Set(refused.map((r) => r.headers.get('retry-after')))
    expect(headers.size).toBeGreaterThan(1)
    expect(new Set(fromHttp).size).toBeGreaterThan(refused.length / 2)

    // Within the documented range, in the order refused: the k-th refused client's slot is
    // k slots after the first's (less the time since), plus up to one slot of jitter;
    // never before the bucket could admit it, never more than two slots past its own.
    const t0 = refusals[0]!.at
    refusals.forEach((r, k) => {
      expect(r.retryAfterMs, `refusal ${k}`).toBeGreaterThan(0)
      // (20 ms slack: `at` is taken just after each decision, not at it.)
      expect(r.retryAfterMs, `refusal ${k}`).toBeGreaterThanOrEqual(k * SLOT - (r.at - t0) - 20)
      expect(r.retryAfterMs, `refusal ${k}`).toBeLessThanOrEqual((k + 2) * SLOT + 1)
    })

    // Jittered: each delay is its slot on the promise schedule (a GCRA at the admission rate
    // with no burst, replayed here from when each refusal happened) plus a random share of one
    // slot. Without jitter these shares would all be ~0; with it they spread over the slot.
    let tat = Number.NEGATIVE_INFINITY
    const jitter: number[] = []
    for (const r of refusals) {
      const slotDelay = Math.max(Math.max(tat, r.at) - r.at, 0)
      tat = Math.max(tat, r.at) + SLOT
      // Past the first slot, the promise (not the bucket's own retry time) sets the base;
      // 20 ms slack: `at` is taken just after each decision.
      if (slotDelay < SLOT + 20) continue
      const share = r.retryAfterMs - slotDelay
      expect(share).toBeGreaterThanOrEqual(-20)
      expect(share).toBeLessThanOrEqual(SLOT + 20)
      jitter.push(share)
    }
    expect(jitter.length).toBeGreaterThanOrEqual(10)
    expect(Math.max(...jitter) - Math.min(...jitter)).toBeGreaterThan(SLOT / 4)

    const text = await scrape(url)
    expect(metricValue(text, 'slew_stream_admissions_refused_total')).toBe(refused.length)
    expect(metricValue(text, 'slew_stream_admissions_total')).toBe(admitted.length)
  })
})

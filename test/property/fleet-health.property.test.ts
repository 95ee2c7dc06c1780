/**
 * The fleet's origin health kept as heartbeats come (a control step costs
 * the heartbeats since the last one) against a pass over every client's
 * last report, through any sequence of heartbeats, forgets and asks —
 * times mostly forward, sometimes back, marks old and new:
 *
 * - the calls-weighted p50, p99 and error rate of the reports after the
 *   mark and not before `since` (each client's last only), and their calls;
 * - the throughput: Σ calls/s of the last reports whose interval (and a
 *   second) has not passed at `now`, undefined when none says its interval.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type ClientHealth,
  FleetHealth,
  type HealthReport,
  type OriginHealthFigures,
  originLatency,
} from '../../src/warmup/fleet-health.js'
import { params } from './runs.js'

/** The definition: one pass over each client's last report. */
const byPass = (
  reports: Iterable<ClientHealth>,
  since: number,
  after: number,
  now: number | undefined,
): OriginHealthFigures => {
  let calls = 0
  let p50 = 0
  let p99 = 0
  let errors = 0
  let throughput: number | undefined
  for (const h of reports) {
    if (now !== undefined && h.intervalMs && h.at + h.intervalMs + 1000 >= now)
      throughput = (throughput ?? 0) + ((h.calls ?? 0) * 1000) / h.intervalMs
    if (h.at < since || h.n <= after || !h.calls) continue
    calls += h.calls
    const o = originLatency(h)
    p50 += o.p50 * h.calls
    p99 += o.p99 * h.calls
    errors += (h.errorRate ?? 0) * h.calls
  }
  const current = throughput === undefined ? {} : { throughput }
  if (calls === 0) return { samples: 0, ...current }
  return {
    p50: p50 / calls,
    p99: p99 / calls,
    errorRate: errors / calls,
    samples: calls,
    ...current,
  }
}

const idArb = fc.integer({ min: 0, max: 7 }).map((i) => `c${i}`)
const reportArb: fc.Arbitrary<HealthReport> = fc.record(
  {
    calls: fc.integer({ min: 0, max: 500 }),
    latencyP50: fc.integer({ min: 0, max: 100 }),
    latencyP99: fc.integer({ min: 0, max: 400 }),
    loopDelayP50: fc.integer({ min: 0, max: 20 }),
    errorRate: fc.double({ min: 0, max: 1, noNaN: true }),
    intervalMs: fc.oneof(
      fc.constant(0),
      fc.integer({ min: 1, max: 2000 }),
      fc.integer({ min: 1, max: 20_000 }),
    ),
  },
  { requiredKeys: ['calls'] },
)
const opArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ op: fc.constant('beat' as const), id: idArb, hb: reportArb }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('forget' as const), id: idArb }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('ask' as const),
      sinceBack: fc.integer({ min: 0, max: 30_000 }),
      markBack: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 500 })),
      withNow: fc.boolean(),
    }),
  },
  // The clock: mostly forward, sometimes back (a caller's `now` is its own).
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('tick' as const),
      ms: fc.integer({ min: -3000, max: 8000 }),
    }),
  },
)

const close = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? a === b : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b))

describe('fleet health kept as heartbeats come', () => {
  it('answers what a pass over every last report does', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 400 }), (ops) => {
        const fleet = new FleetHealth()
        let now = 0
        for (const o of ops) {
          if (o.op === 'tick') now += o.ms
          else if (o.op === 'beat') fleet.heartbeat(o.id, o.hb, now)
          else if (o.op === 'forget') fleet.forget(o.id)
          else {
            const since = now - o.sinceBack
            const after = Math.max(0, fleet.beats - o.markBack)
            const at = o.withNow ? now : undefined
            const got = fleet.originHealth(since, after, at)
            const want = byPass(
              [...fleet.reports()].map(([, h]) => h),
              since,
              after,
              at,
            )
            expect(got.samples).toBe(want.samples)
            for (const k of ['p50', 'p99', 'errorRate', 'throughput'] as const)
              expect(close(got[k], want[k]), `${k}: ${got[k]} vs ${want[k]}`).toBe(true)
          }
        }
      }),
      params(),
    )
  })

  it('counts a report towards the throughput until its interval and a second have passed', () => {
    const fleet = new FleetHealth()
    fleet.heartbeat('a', { calls: 10, intervalMs: 1000 }, 0)
    fleet.heartbeat('b', { calls: 30, intervalMs: 3000 }, 0)
    const at = (now: number) => fleet.originHealth(0, 0, now).throughput
    expect([at(500), at(2000), at(2001), at(4000), at(4001)]).toEqual([20, 20, 10, 10, undefined])
    // Asked about an earlier time again: the reports taken off count again.
    expect(at(1500)).toBe(20)
    fleet.heartbeat('a', { calls: 5, intervalMs: 1000 }, 5000)
    expect(at(5000)).toBe(5)
  })

  it("keeps a client's last report however many others come after it", () => {
    const fleet = new FleetHealth()
    fleet.heartbeat('quiet', { calls: 7, latencyP50: 3, latencyP99: 9 }, 0)
    for (let i = 0; i < 1000; i++) fleet.heartbeat(`c${i % 10}`, { calls: 1, intervalMs: 10 }, i)
    // Long after the others' intervals: their throughput is over, every report still counts.
    expect(fleet.originHealth(0, 0, 60_000)).toMatchObject({ samples: 17, p50: (7 * 3) / 17 })
    expect(fleet.originHealth(0, 0, 60_000).throughput).toBeUndefined()
  })
})

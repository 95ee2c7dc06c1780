/**
 * Fair refetch tokens (issue 12, item 2), on the real engine under the
 * virtual clock. Whatever other clients ask for and however often (as long
 * as they keep asking), a client whose demand is at most 80 % of its fair
 * share — `rate / n` per second, n the clients asking — and that asks for
 * what it is owed (each ask at most `max(1, burst / n)` tokens, at most at
 * its share's rate) is never more than one ask and two share bursts behind;
 * the class stays within its B2 bound (`burst + rate·T` granted in any window
 * T). Alone, a client gets exactly what the class bucket alone would grant;
 * with others asking little, the rest of the class's rate goes to whoever
 * asks beyond its share.
 *
 * Before the fix (the class bucket alone) the first property fails within
 * 7 runs.
 * Without the hold (a refused client's shortfall kept back for one share
 * interval) it fails too, rarely: 30,000 runs found a client 8 tokens over
 * the bound (5.3 × one ask and one share burst); with it, the worst of 30,000
 * runs was 0.8 under (1.1 ×).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Engine } from '../../src/invalidation/engine.js'
import { fairShare, gcraGrantShare, NO_HOLD } from '../../src/limiter/fair.js'
import { gcraGrant } from '../../src/limiter/gcra.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'
import { budgetArb } from './arbitraries.js'
import { peakOver, SLACK, WINDOWS } from './check.js'
import { params } from './runs.js'

const hogArb = fc.record({
  want: fc.integer({ min: 1, max: 200 }),
  /** Gaps between its asks, ms, cycled: it keeps asking (every gap shorter than the window). */
  gaps: fc.array(
    fc.oneof(fc.double({ min: 0.5, max: 60, noNaN: true }), fc.integer({ min: 1, max: 60 })),
    { minLength: 1, maxLength: 8 },
  ),
})

const runArb = fc
  .record({
    hogs: fc.array(hogArb, { minLength: 1, maxLength: 4 }),
    rate: fc.oneof(fc.integer({ min: 2, max: 400 }), fc.double({ min: 2, max: 400, noNaN: true })),
    burst: fc.integer({ min: 1, max: 120 }),
    /** How much of its share's rate the fair client's demand is, and how big its asks may be. */
    load: fc.double({ min: 0.05, max: 0.8, noNaN: true }),
    size: fc.double({ min: 0, max: 1, noNaN: true }),
    start: fc.constantFrom(0, 1.7e12),
    durationMs: fc.integer({ min: 500, max: 4000 }),
  })
  .map((r) => {
    const n = r.hogs.length + 1
    // Shares of at least two tokens a second and one whole token of burst each.
    const budget = { ratePerSec: Math.max(r.rate, 2 * n), burst: Math.max(r.burst, n) }
    const share = fairShare(budget, n)
    const most = Math.max(1, Math.floor(Math.min(share.burst, share.ratePerSec * 0.9)))
    const want = 1 + Math.floor(r.size * (most - 1))
    // At most its share's rate, and often enough to count as asking.
    const everyMs = Math.min(900, (want * 1000) / share.ratePerSec)
    return { ...r, budget, share, want, everyMs }
  })

describe('fair refetch tokens', () => {
  // Rewarm leases come a share's burst at a time (or all that is asked, if less), or none.
  it.each(['invalidate', 'rewarm'] as const)(
    'a client asking %s tokens within its share stays within one ask and two share bursts of its due; B2 holds',
    (cls) => {
      fc.assert(
        fc.property(runArb, (run) => {
          const clock = new VirtualClock(run.start)
          const engine = new Engine({
            clock,
            config: {
              budgets: { [cls]: run.budget },
              leases: { ttlMs: 100, maxBatch: 1_000_000 },
            },
          })
          const grants: [number, number][] = []
          const actors = [
            { id: 'fair', want: run.want, gaps: [run.everyMs], next: run.start as number, k: 0 },
            ...run.hogs.map((h, i) => ({ id: `hog-${i}`, ...h, next: run.start as number, k: 0 })),
          ]
          // The fair client's due grows at `load` of its share's rate; it asks for what it is owed
          // (at least one token: it keeps asking).
          let owed = 0
          let worst = 0
          let last: number = run.start
          const end = run.start + run.durationMs
          for (;;) {
            const a = actors.reduce((x, y) => (y.next < x.next ? y : x))
            if (a.next >= end) break
            clock.advance(a.next - clock.now())
            const fair = a.id === 'fair'
            if (fair) {
              owed += ((clock.now() - last) * run.share.ratePerSec * run.load) / 1000
              last = clock.now()
            }
            const want = fair ? Math.max(1, Math.min(a.want, Math.floor(owed))) : a.want
            const g = engine.lease(a.id, want, cls)
            if (g.granted > 0) grants.push([clock.now(), g.granted])
            if (cls === 'rewarm' && g.granted > 0)
              expect(g.granted).toBeGreaterThanOrEqual(
                // Fewer asking (the first asks) make a larger share: never a smaller grant.
                Math.min(want, Math.max(1, Math.floor(run.share.burst))),
              )
            if (fair) {
              owed -= g.granted
              worst = Math.max(worst, owed)
            }
            a.next += a.gaps[a.k++ % a.gaps.length]!
          }
          engine.close()
          expect(worst).toBeLessThanOrEqual(run.want + 2 * run.share.burst)
          for (const w of WINDOWS)
            expect(peakOver(grants, w)).toBeLessThanOrEqual(
              run.budget.burst + (run.budget.ratePerSec * w) / 1000 + SLACK,
            )
        }),
        params(),
      )
    },
  )

  it('alone, a client gets what the class bucket alone would grant (work-conserving)', () => {
    fc.assert(
      fc.property(
        budgetArb,
        fc.constantFrom(0, 1.7e12),
        fc.array(
          fc.record({
            step: fc.oneof(
              fc.integer({ min: 0, max: 500 }),
              fc.double({ min: 0, max: 500, noNaN: true }),
            ),
            want: fc.integer({ min: 1, max: 200 }),
          }),
          { maxLength: 100 },
        ),
        (budget, start, asks) => {
          let now = start
          let tat = Number.NEGATIVE_INFINITY
          let clientTat = Number.NEGATIVE_INFINITY
          let plain = Number.NEGATIVE_INFINITY
          let held = NO_HOLD
          for (const { step, want } of asks) {
            now += step
            // The class bucket was also spent by others before (their window passed).
            const r = gcraGrantShare(tat, clientTat, 1, now, want, budget, 1000, held)
            const g = gcraGrant(plain, now, want, budget)
            expect(r.granted).toBe(g.granted)
            expect(r.retryAfterMs).toBeCloseTo(g.retryAfterMs, 6)
            ;({ tat, clientTat } = r)
            held = r.hold
            plain = g.tat
          }
        },
      ),
      params(),
    )
  })

  it('what a light client leaves of its share goes to the one asking beyond its own', () => {
    const clock = new VirtualClock(1.7e12)
    const rate = 100
    const engine = new Engine({
      clock,
      config: {
        budgets: { invalidate: { ratePerSec: rate, burst: 20 } },
        leases: { maxBatch: 1000 },
      },
    })
    let light = 0
    let hog = 0
    // 10 s: the hog asks for 1000 every 10 ms, the light client for 1 every 200 ms (5/s of 50/s).
    for (let t = 0; t < 10_000; t += 10) {
      clock.advance(10)
      if (t % 200 === 0) light += engine.lease('light', 1).granted
      hog += engine.lease('hog', 1000).granted
    }
    engine.close()
    expect(light).toBe(50)
    expect(light + hog).toBeGreaterThanOrEqual(0.97 * rate * 10)
    expect(light + hog).toBeLessThanOrEqual(20 + rate * 10)
  })
})

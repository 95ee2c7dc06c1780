import { describe, expect, it } from 'vitest'
import { AimdRate } from '../../src/warmup/aimd.js'

describe('adaptive rewarm rate (AIMD)', () => {
  const healthy = { p50: 50, p99: 60, errorRate: 0, samples: 500 }

  // One control step per second, as the coordinator runs it; 500 calls per step = 500 calls/s.
  const opts = { targetLatencyMs: 100, intervalMs: 1000 }
  /** A queue: the median 11 over its lowest (50), more than 10 % of the headroom (100 − 60). */
  const queue = (p50: number, calls: number) => ({ p50, p99: 80, errorRate: 0, samples: calls })

  it('starts low, doubles until a queue, and leaves slow start from what the origin got through', () => {
    const a = new AimdRate(1000, opts)
    expect(a.rate).toBe(100)
    expect(a.update(healthy)).toBe(200)
    expect(a.update(healthy)).toBe(400)
    expect(a.update(healthy)).toBe(800)
    // A queue at 800/s, the origin getting 600/s through: 0.9 × 600, not half of 800.
    expect(a.update(queue(61, 600))).toBeCloseTo(540)
  })

  it('backs off once, then holds while the figures still describe the rate before', () => {
    const a = new AimdRate(1000, opts)
    for (let i = 0; i < 3; i++) a.update(healthy) // 800
    expect(a.update(queue(61, 600))).toBeCloseTo(540)
    // One second later the queue still shows (it was built before the back-off): no second cut.
    expect(a.update(queue(70, 600))).toBeCloseTo(540)
    // Two seconds later, still growing: a queue the back-off did not cure. Cut again.
    expect(a.update(queue(80, 600))).toBeCloseTo(486)
  })

  it('does not back off again while the queue drains', () => {
    const a = new AimdRate(1000, opts)
    for (let i = 0; i < 3; i++) a.update(healthy)
    a.update(queue(80, 600)) // 540
    a.update(queue(90, 600)) // held
    // Still above the threshold, but the median is falling fast: draining, no cut.
    expect(a.update(queue(70, 600))).toBeCloseTo(540)
    expect(a.update(queue(60, 600))).toBeCloseTo(540)
  })

  it('grows back towards the throughput it saw when the origin queued, slowing near it, then probes beyond', () => {
    const a = new AimdRate(10_000, { ...opts, start: 0.01 })
    for (let i = 0; i < 4; i++) a.update({ ...healthy, samples: 5000 }) // 100 → 1600
    // Overshot: the origin got 1000/s through. Back to 900, with a plateau at 1000.
    expect(a.update(queue(61, 1000))).toBeCloseTo(900)
    const rates: number[] = []
    for (let i = 0; i < 16; i++) rates.push(a.update({ ...healthy, samples: 5000 }))
    // Never lower, and never less than the least step (0.004 of the ceiling: 40).
    for (let i = 1; i < rates.length; i++)
      expect(rates[i]! - rates[i - 1]!).toBeGreaterThanOrEqual(39.99)
    // Concave near the plateau, convex past it: the steps shrink, then grow.
    const steps = rates.slice(1).map((r, i) => r - rates[i]!)
    const smallest = steps.indexOf(Math.min(...steps))
    expect(smallest).toBeGreaterThan(0)
    expect(smallest).toBeLessThan(steps.length - 1)
    expect(rates[smallest]!).toBeGreaterThan(900)
    expect(steps.at(-1)!).toBeGreaterThan(steps[smallest]!)
  })

  it('in slow start, a queue while the fleet asks for less than the rate cuts but goes on doubling', () => {
    const a = new AimdRate(1000, opts)
    expect(a.update(healthy)).toBe(200)
    // A few clients' bursts queue the origin at 150/s of a 200/s rate nobody fills (used 0.75).
    expect(a.update({ ...queue(61, 150), used: 0.75 })).toBeCloseTo(135)
    // Not the rate's doing: once the fleet asks for the rate, slow start doubles on.
    expect(a.update({ ...healthy, used: 1 })).toBeCloseTo(270)
    expect(a.update({ ...healthy, used: 1 })).toBeCloseTo(540)
    // The same queue with the rate used ends slow start: the least growth from then on.
    const b = new AimdRate(1000, opts)
    b.update(healthy)
    expect(b.update({ ...queue(61, 150), used: 1 })).toBeCloseTo(135)
    expect(b.update({ ...healthy, used: 1 })).toBeLessThan(270)
  })

  it("grows back towards what the origin served through a queue's whole interval, not its onset", () => {
    const a = new AimdRate(10_000, { ...opts, start: 0.01 })
    for (let i = 0; i < 4; i++) a.update({ ...healthy, samples: 5000 }) // 100 → 1600
    // The queue's first interval is part before it: 1,000 calls reported. Cut to 900.
    expect(a.update(queue(61, 1000))).toBeCloseTo(900)
    // Through the next, still queueing (held), the origin served 1,500/s: its capacity.
    expect(a.update(queue(75, 1500))).toBeCloseTo(900)
    const rates: number[] = []
    for (let i = 0; i < 12; i++) rates.push(a.update({ ...healthy, samples: 5000 }))
    // The cubic's plateau is 1,500, not the onset's 1,000: it slows down near 1,500 (K = 7.4 s
    // after the cut), not near 1,000.
    const steps = rates.slice(1).map((r, i) => r - rates[i]!)
    const smallest = steps.indexOf(Math.min(...steps))
    expect(rates[smallest]!).toBeGreaterThan(1400)
    expect(rates[smallest]!).toBeLessThan(1600)
  })

  it('backs off on errors and on p99 over the target, never below the floor or above the ceiling', () => {
    const a = new AimdRate(1000, { targetLatencyMs: 100, floor: 0.05 })
    a.update(healthy)
    // Errors say nothing of throughput: from the rate before the last doubling, 100.
    expect(a.update({ ...healthy, errorRate: 0.2 })).toBeCloseTo(90)
    for (let i = 0; i < 100; i++) a.update({ ...healthy, errorRate: 1 })
    expect(a.rate).toBeCloseTo(50)
    for (let i = 0; i < 500; i++) a.update(healthy)
    expect(a.rate).toBe(1000)
    expect(a.update({ ...healthy, p99: 101 })).toBeCloseTo(900)
    a.ceiling = 400
    expect(a.rate).toBe(400)
  })

  it('learns an origin that always fails a little, and backs off on errors beyond it', () => {
    // 3 % of calls fail whatever the load (binomial noise around it): the rate still grows to the
    // ceiling; errors as such (over the 1 % threshold) would keep it at its floor.
    const a = new AimdRate(1000)
    let seed = 7
    const random = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
      return seed / 2 ** 32
    }
    const errors = (p: number, n: number) => {
      let k = 0
      for (let i = 0; i < n; i++) if (random() < p) k++
      return k / n
    }
    for (let i = 0; i < 400; i++) a.update({ ...healthy, errorRate: errors(0.03, 500) })
    expect(a.rate).toBe(1000)
    expect(a.baselineErrorRate).toBeGreaterThan(0.02)
    expect(a.baselineErrorRate).toBeLessThan(0.03)
    // Then 10 % fail (the origin is in trouble): back off, and not learn it as its baseline.
    a.update({ ...healthy, errorRate: errors(0.1, 500) })
    expect(a.rate).toBeCloseTo(900)
    for (let i = 0; i < 200; i++) a.update({ ...healthy, errorRate: errors(0.1, 500) })
    expect(a.rate).toBe(10)
    expect(a.baselineErrorRate).toBeLessThan(0.05)
  })

  it('backs off an under-used rate once the origin queues, after its hold', () => {
    // Found on a real PostgreSQL: a rate used at 20-70 % while the origin was slow never lapsed
    // its hold (each under-used interval restarted the cubic) and was never cut.
    const a = new AimdRate(1000)
    a.update(queue(500, 100))
    const cut = a.rate
    let cuts = 0
    let last = cut
    for (let i = 0; i < 20; i++) {
      a.update({ p50: 500, p99: 900, errorRate: 0, samples: 100, used: 0.5 })
      if (a.rate < last) cuts++
      last = a.rate
    }
    expect(cuts).toBeGreaterThanOrEqual(3)
    expect(a.rate).toBeLessThan(cut)
  })

  it('does not grow a rate nobody uses, and holds without figures', () => {
    const a = new AimdRate(1000)
    expect(a.update({ ...healthy, used: 0.3 })).toBe(100)
    expect(a.update({})).toBe(100)
  })

  it('learns its baselines only from intervals with enough calls', () => {
    const a = new AimdRate(1000, { targetLatencyMs: 100 })
    a.update({ p50: 20, p99: 25, samples: 10 }) // too few to learn from: grows
    expect(a.rate).toBe(200)
    a.update(healthy)
    // Lowest p50 is 50 (not 20), so 53 is no queue (the threshold is 50 + 10 % of 40).
    expect(a.update({ ...healthy, p50: 53 })).toBe(800)
  })

  it('does not learn its baselines from failing intervals', () => {
    const a = new AimdRate(1000, { targetLatencyMs: 100 })
    a.update(healthy) // 200
    // Connection refused at once: fast calls, all failing. A back-off, and nothing learned.
    expect(a.update({ p50: 1, p99: 2, errorRate: 1, samples: 500 })).toBeCloseTo(90)
    // Healthy again: 53 is no queue (the lowest median is 50, not 1), so the rate grows.
    expect(a.update({ ...healthy, p50: 53 })).toBeGreaterThan(90)
  })

  it('learns again an origin that became slower for good, within its baseline window', () => {
    const a = new AimdRate(1000, { targetLatencyMs: 400, intervalMs: 1000, baselineWindowMs: 5000 })
    for (let i = 0; i < 3; i++) a.update(healthy)
    // Slower for good (a new deployment): its median is 100 more, which first reads as a queue.
    const slower = { p50: 150, p99: 170, errorRate: 0, samples: 500 }
    const cut = a.update(slower)
    expect(cut).toBeLessThan(800)
    for (let i = 0; i < 4; i++) a.update(slower)
    // Once the fast intervals have left the window, the slower origin is the baseline: growth again.
    const before = a.rate
    expect(a.update(slower)).toBeGreaterThan(before)
    expect(a.update(slower)).toBeGreaterThan(before)
  })

  it('ages its baselines with time, also over intervals without calls', () => {
    const a = new AimdRate(1000, { targetLatencyMs: 400, intervalMs: 1000, baselineWindowMs: 5000 })
    for (let i = 0; i < 3; i++) a.update(healthy)
    // Idle for longer than the window (no rewarm running: intervals without figures)…
    for (let i = 0; i < 6; i++) a.update({})
    // …then the origin is slower for good: the old fast baseline is gone, so this is no queue.
    const slower = { p50: 150, p99: 170, errorRate: 0, samples: 500 }
    const before = a.rate
    expect(a.update(slower)).toBeGreaterThan(before)
  })

  it('refuses bad options', () => {
    expect(() => new AimdRate(100, { decrease: 1.5 })).toThrow(/`decrease`/)
    expect(() => new AimdRate(100, { targetLatencyMs: 0 })).toThrow(/`targetLatencyMs`/)
  })
})

/**
 * One metric watched (issue 15, item 3): a drop opens an incident — a
 * large one within seconds, a small one as its evidence adds up (one of
 * half the smallest that matters too) — the
 * model does not learn it while it lasts, and the incident closes after
 * the metric has been back for clearMs. Noise alone opens none over a
 * simulated week.
 */
import { describe, expect, it } from 'vitest'
import { poissonCounts } from '../../src/sim/rng.js'
import { cusumHeight, MetricWatch, type WatchSpec } from '../../src/watch/watch.js'

const spec: WatchSpec = {
  metric: 'orders',
  worse: 'lower',
  threshold: 4,
  forMs: 10_000,
  clearMs: 60_000,
}

const run = (
  w: MetricWatch,
  from: number,
  until: number,
  rate: number,
  count: (r: number) => number,
) => {
  const opened: number[] = []
  const closed: number[] = []
  for (let t = from; t < until; t += 1000) {
    const r = w.step(t, count(rate))
    if (r.opened) opened.push(t)
    if (r.closed) closed.push(t)
  }
  return { opened, closed }
}

describe('a metric watch', () => {
  it('sets its height from the run length a noise-only series must have', () => {
    // Siegmund's approximation, checked against its inverse.
    const k = 0.5
    const h = cusumHeight(k, 1e6)
    const x = 2 * k * (h + 1.166)
    expect((Math.exp(x) - x - 1) / (2 * k * k)).toBeCloseTo(1e6, -2)
  })

  it('opens nothing on noise alone over a simulated week', { timeout: 60_000 }, () => {
    const w = new MetricWatch(spec)
    const { opened } = run(w, 0, 7 * 86_400_000, 100, poissonCounts(1))
    expect(opened).toEqual([])
  })

  it('catches a halving within seconds, holds the model, and closes once back', () => {
    const w = new MetricWatch(spec)
    const count = poissonCounts(2)
    run(w, 0, 900_000, 100, count)
    const before = w.model.expect(900_000).expected
    const drop = run(w, 900_000, 960_000, 50, count)
    expect(drop.opened).toHaveLength(1)
    expect(drop.opened[0]! - 900_000).toBeLessThanOrEqual(5_000)
    expect(w.open).toMatchObject({ metric: 'orders', since: 900_000 })
    expect(w.open!.observed).toBeLessThan(w.open!.expected * 0.6)
    expect(Math.abs(w.model.expect(960_000).expected - before)).toBeLessThan(1)
    const back = run(w, 960_000, 1_100_000, 100, count)
    expect(back.closed).toHaveLength(1)
    expect(back.closed[0]! - 960_000).toBeGreaterThanOrEqual(60_000)
    expect(w.open).toBeUndefined()
  })

  it('catches a 10 % drop as fast as its rate allows', () => {
    // The evidence a 10 % drop brings grows with the rate: 1,000/s is 3.2 noise units a second.
    for (const [rate, within] of [
      [1_000, 10_000],
      [100, 60_000],
    ] as const) {
      const w = new MetricWatch(spec)
      const count = poissonCounts(3)
      run(w, 0, 900_000, rate, count)
      const { opened } = run(w, 900_000, 1_020_000, rate * 0.9, count)
      expect(opened.length, `${rate}/s`).toBe(1)
      expect(opened[0]! - 900_000, `${rate}/s`).toBeLessThanOrEqual(within)
    }
  })

  it('catches a drop of half the smallest that matters, as its evidence adds up', () => {
    // 5 % of 100/s is 0.5 noise units a step, under the 1.26 of threshold 4 over 10 s: a CUSUM
    // less half of that loses evidence on it (2 of these 10 seeds open within 5 minutes), the
    // finer one gains 0.18 a step.
    const seeds = Array.from({ length: 10 }, (_, i) => 20 + i)
    const opened = seeds.filter((seed) => {
      const w = new MetricWatch(spec)
      const count = poissonCounts(seed)
      run(w, 0, 900_000, 100, count)
      return run(w, 900_000, 1_200_000, 95, count).opened.length > 0
    })
    expect(opened.length).toBeGreaterThanOrEqual(6)
  })

  it("takes a promotion's end for no drop, and still sees one after", () => {
    const w = new MetricWatch(spec)
    const count = poissonCounts(5)
    const HOUR = 3_600_000
    run(w, 0, 2 * HOUR, 100, count)
    // 45 minutes at +60 %, ramped in and out over 3 minutes: the level learns it, the baseline not.
    const promo = (t: number) => {
      const ramp = 180_000
      const x = t - 2 * HOUR
      const up = Math.min(1, x / ramp, (45 * 60_000 - x) / ramp)
      return 100 * (1 + 0.6 * Math.max(0, up))
    }
    const opened: number[] = []
    for (let t = 2 * HOUR; t < 4 * HOUR; t += 1000)
      if (w.step(t, count(promo(t))).opened) opened.push(t)
    expect(opened).toEqual([])
    const { opened: drop } = run(w, 4 * HOUR, 4 * HOUR + 60_000, 50, count)
    expect(drop).toHaveLength(1)
    expect(drop[0]! - 4 * HOUR).toBeLessThanOrEqual(5_000)
  })

  it('learns a drop that lasts as the new level, closes, and sees the next one', () => {
    // Without it an incident opened on a lasting change (the weekend dip deepening, the hours
    // after an outage) stayed open for days and no later drop could open another.
    const w = new MetricWatch(spec)
    const count = poissonCounts(6)
    const MIN = 60_000
    run(w, 0, 15 * MIN, 100, count)
    const lasting = run(w, 15 * MIN, 75 * MIN, 70, count)
    expect(lasting.opened).toHaveLength(1)
    expect(lasting.closed).toHaveLength(1)
    // Held still for 15 minutes, then learned (two minutes late), then calm for clearMs.
    expect(lasting.closed[0]! - lasting.opened[0]!).toBeGreaterThan(17 * MIN)
    expect(lasting.closed[0]! - lasting.opened[0]!).toBeLessThan(40 * MIN)
    const next = run(w, 75 * MIN, 80 * MIN, 35, count)
    expect(next.opened).toHaveLength(1)
    expect(next.opened[0]! - 75 * MIN).toBeLessThanOrEqual(5_000)
  })

  it('ignores a rise when lower is worse', () => {
    const w = new MetricWatch(spec)
    const count = poissonCounts(4)
    run(w, 0, 900_000, 100, count)
    expect(run(w, 900_000, 1_000_000, 200, count).opened).toEqual([])
  })
})

/**
 * The business watch's model (issue 15, item 2): the expected value and its
 * noise, learned online. On a steady series its noise is the series' own
 * and its z-scores stay in the normal's range; a drop does not become the
 * new normal while it lasts; with a period it says it is learning until it
 * has `history` periods, then follows the season within the noise, as a
 * shape smoothed over neighbouring phases: another level (a weekend) is learned within minutes, a promotion
 * in one period of the history is outvoted, and the baseline a watch
 * judges a promotion's end by is not moved by the promotion.
 */
import { describe, expect, it } from 'vitest'
import { mulberry32, poissonCounts } from '../../src/sim/rng.js'
import { SeriesModel } from '../../src/watch/model.js'

const normal = (random: () => number) => () =>
  Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())

describe('the series model', () => {
  it('learns a steady series: its level, its noise, z-scores in the normal range', () => {
    const gauss = normal(mulberry32(1))
    const m = new SeriesModel()
    let t = 0
    for (; t < 600_000; t += 1000) m.observe(t, 100 + 10 * gauss())
    const e = m.expect(t)
    expect(e.mode).toBe('level')
    expect(e.learning).toBeUndefined()
    expect(Math.abs(e.expected - 100)).toBeLessThan(3)
    expect(e.noise).toBeGreaterThan(8.5)
    expect(e.noise).toBeLessThan(11.5)
    let far = 0
    const n = 20_000
    for (let i = 0; i < n; i++, t += 1000) {
      const x = 100 + 10 * gauss()
      const { expected, noise } = m.expect(t)
      if (Math.abs(x - expected) / noise > 4) far++
      m.observe(t, x)
    }
    // The normal's two-sided tail beyond 4 sd is 6.3e-5; the estimates' own error adds a little.
    expect(far / n).toBeLessThan(0.001)
  })

  it('does not learn a drop as the new normal while it lasts a minute', () => {
    const gauss = normal(mulberry32(2))
    const m = new SeriesModel()
    let t = 0
    for (; t < 600_000; t += 1000) m.observe(t, 100 + 10 * gauss())
    for (const end = t + 60_000; t < end; t += 1000) m.observe(t, 90 + 10 * gauss())
    expect(m.expect(t).expected).toBeGreaterThan(96)
  })

  it('says it is learning the season until it has the history, then follows it', () => {
    const gauss = normal(mulberry32(3))
    const periodMs = 3_600_000
    const m = new SeriesModel({ periodMs, history: 3, bucketMs: 60_000 })
    const truth = (t: number) => 100 + 50 * Math.sin((2 * Math.PI * t) / periodMs)
    let t = 0
    for (; t < 3 * periodMs; t += 1000) {
      if (t % 600_000 === 0) {
        const e = m.expect(t)
        expect(e.mode).toBe('level')
        expect(e.learning).toMatch(/learning seasonality: [\d.]+ of 3 periods of history/)
      }
      m.observe(t, truth(t) + 5 * gauss())
    }
    let off = 0
    let steps = 0
    for (const end = t + periodMs; t < end; t += 1000, steps++) {
      const e = m.expect(t)
      expect(e.mode).toBe('seasonal')
      if (Math.abs(e.expected - truth(t)) > 3 * 5) off++
      m.observe(t, truth(t) + 5 * gauss())
    }
    expect(off / steps).toBeLessThan(0.01)
    const e = m.expect(t)
    expect(e.noise).toBeGreaterThan(4)
    expect(e.noise).toBeLessThan(7)
  })

  it("averages each phase's share with its neighbours': a minute's count noise is no bias", () => {
    // A minute's mean of a Poisson 100/s is off by 0.13 of a second's noise, for 60 steps in a
    // row; the median of three periods' by about 0.09. Over ±3 minutes, a third of that.
    const periodMs = 7_200_000
    const truth = (t: number) => 100 * (1 + 0.3 * Math.sin((2 * Math.PI * t) / periodMs))
    const rmsOff = (smoothBuckets: number) => {
      const count = poissonCounts(7)
      const m = new SeriesModel({ periodMs, history: 3, smoothBuckets })
      let t = 0
      for (; t < 3 * periodMs; t += 1000) m.observe(t, count(truth(t)))
      let sum = 0
      let n = 0
      for (const end = t + periodMs; t < end; t += 1000, n++) {
        sum += ((m.expect(t).expected - truth(t)) / Math.sqrt(truth(t))) ** 2
        m.observe(t, count(truth(t)))
      }
      return Math.sqrt(sum / n)
    }
    const own = rmsOff(0)
    const smoothed = rmsOff(3)
    expect(own).toBeGreaterThan(0.08)
    expect(smoothed).toBeLessThan(0.75 * own)
  })

  it('takes a period at another level for the same shape: a weekend day judged by weekdays', () => {
    const gauss = normal(mulberry32(4))
    const periodMs = 3_600_000
    const m = new SeriesModel({ periodMs, history: 3, bucketMs: 60_000 })
    const shape = (t: number) => 1 + 0.5 * Math.sin((2 * Math.PI * t) / periodMs)
    let t = 0
    for (; t < 3 * periodMs; t += 1000) m.observe(t, 100 * shape(t) + gauss())
    // The next period runs at 0.8 × the level: within a few minutes the model expects that,
    // at every phase (a share of the level, not an offset learned at one phase).
    let off = 0
    let steps = 0
    for (const end = t + periodMs; t < end; t += 1000) {
      const truth = 80 * shape(t)
      if (t >= 3 * periodMs + 600_000) {
        steps++
        if (Math.abs(m.expect(t).expected - truth) > 3) off++
      }
      m.observe(t, truth + gauss())
    }
    expect(off / steps).toBeLessThan(0.01)
  })

  it('outvotes a promotion in one period of its history', () => {
    const gauss = normal(mulberry32(5))
    const periodMs = 3_600_000
    const m = new SeriesModel({ periodMs, history: 3, bucketMs: 60_000 })
    // A period at 100, then at 80 (a weekend), the first of those with +80 % in minutes 20-30.
    const level = (t: number) => (t < periodMs ? 100 : 80)
    const promoted = (t: number) =>
      t >= periodMs + 1_200_000 && t < periodMs + 1_800_000 ? 1.8 : 1
    let t = 0
    for (; t < 3 * periodMs; t += 1000) m.observe(t, level(t) * promoted(t) + 3 * gauss())
    for (const end = t + periodMs; t < end; t += 1000) {
      const e = m.expect(t)
      expect(Math.abs(e.expected - 80), `at ${t}`).toBeLessThan(4 * 3)
      m.observe(t, 80 + 3 * gauss())
    }
  })

  it('keeps a baseline a promotion of an hour does not move: the median of six hours', () => {
    const gauss = normal(mulberry32(6))
    const m = new SeriesModel()
    let t = 0
    for (; t < 6 * 3_600_000; t += 1000) m.observe(t, 100 + 5 * gauss())
    for (const end = t + 3_600_000; t < end; t += 1000) m.observe(t, 160 + 5 * gauss())
    const e = m.expect(t)
    // The level has learned the promotion; the baseline has not.
    expect(e.expected).toBeGreaterThan(140)
    expect(Math.abs(e.baseline - 100)).toBeLessThan(2)
  })

  it('ignores values out of order or not finite', () => {
    const m = new SeriesModel()
    m.observe(2000, 10)
    m.observe(1000, 1e9)
    m.observe(3000, Number.NaN)
    m.observe(4000, 10)
    const e = m.expect(5000)
    expect(e.steps).toBe(2)
    expect(e.expected).toBe(10)
  })
})

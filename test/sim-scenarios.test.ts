/**
 * The rewarm and metastable scenarios' targets, on fixed seeds (the
 * simulator is deterministic: these are figures, not timings).
 */
import { describe, expect, it } from 'vitest'
import { type MetastableInput, simulateMetastable } from '../src/sim/metastable.js'
import { simulateRewarm, simulateRewarmSlew } from '../src/sim/rewarm.js'
import { peakOver, SLACK, WINDOWS } from './property/check.js'

describe('rewarm after a content push', () => {
  const r = simulateRewarm({ seed: 1 })

  it('completes within 1.2 × work ÷ capacity, over its latency target at most 1 % of the run', () => {
    expect(r.work).toBe(1_000_000)
    expect(r.slew.idealMs).toBe(1_000_000)
    expect(r.slew.completionMs).toBeLessThanOrEqual(1.2 * r.slew.idealMs)
    expect(r.slew.overTargetFraction).toBeLessThanOrEqual(0.01)
    expect(r.slew.fetches).toBe(r.work)
  })

  it('finds the capacity: the budget is 3 × capacity, yet the origin is never pushed there', () => {
    expect(r.budget).toBe(3 * r.capacity)
    expect(r.slew.peakPerSec).toBeLessThan(1.2 * r.capacity)
    // Naive sends everything at once: the origin is over its target nearly all the time.
    expect(r.naive.overTargetFraction).toBeGreaterThan(0.9)
  })

  it('holds on other capacities, latencies and seeds (runs of 4 to 8 minutes)', () => {
    for (const input of [
      { capacity: 400, seed: 3, work: 200_000 },
      { capacity: 2500, clients: 150, seed: 4, work: 600_000 },
      { latency: 200, seed: 7, work: 300_000 },
    ]) {
      const x = simulateRewarm(input)
      expect(x.slew.completionMs, JSON.stringify(input)).toBeLessThanOrEqual(1.2 * x.slew.idealMs)
      expect(x.slew.overTargetFraction, JSON.stringify(input)).toBeLessThanOrEqual(0.01)
    }
  })

  it('an origin that always fails 2 % of calls: its baseline is learned, the rewarm stays within 1.1 × ideal', () => {
    for (const seed of [2]) {
      const x = simulateRewarm({ baseErrors: 0.02, seed, work: 500_000 })
      // The failed 2 % are fetched again: every key lands once, a little more work than ideal.
      expect(x.slew.completionMs, `seed ${seed}`).toBeLessThanOrEqual(1.1 * x.slew.idealMs)
      expect(x.slew.overTargetFraction, `seed ${seed}`).toBeLessThanOrEqual(0.005)
      expect(x.slew.fetches).toBeGreaterThan(1.015 * x.work)
    }
  })
})

/** The slew run's origin calls, as made: [virtual ms, count]. */
const metastableWithFetches = (input: MetastableInput) => {
  const fetches: [number, number][] = []
  const result = simulateMetastable(input, { onFetch: (at, n) => fetches.push([at, n]) })
  return { ...result, fetches }
}

/** B2, by construction: every call is under a leased token, so any window of T holds at most burst + budget·(T + lease TTL). */
const expectWithinB2 = (m: ReturnType<typeof metastableWithFetches>) => {
  expect(m.fetches.length).toBeGreaterThan(0)
  expect(peakOver(m.fetches, 1000)).toBe(m.slew.peakPerSec)
  for (const w of WINDOWS) {
    expect(peakOver(m.fetches, w), `${w} ms window`).toBeLessThanOrEqual(
      m.burst + (m.budget * (w + m.leaseTtlMs)) / 1000 + SLACK,
    )
  }
  expect(m.boundPerSec).toBe(m.burst + m.budget * (1 + m.leaseTtlMs / 1000))
}

describe('metastable failure', () => {
  const m = metastableWithFetches({ seed: 1 })

  it('naive never recovers in the horizon; slew returns to the warm hit rate within 1.2 × ideal', () => {
    expect(m.warmHitRate).toBe(0.9)
    expect(m.capacity).toBe(0.3 * 50 * 100)
    expect(m.naive.recoveredMs).toBeNull()
    expect(m.slew.recoveredMs).not.toBeNull()
    expect(m.slew.recoveredMs!).toBeLessThanOrEqual(1.2 * m.slew.idealRecoveryMs)
    expect(Math.max(...m.naive.hitRate.slice(-10))).toBeLessThan(0.7)
    expect(Math.min(...m.slew.hitRate.slice(-10))).toBeGreaterThanOrEqual(0.9 - 1e-9)
    expect(m.slew.failed).toBe(0)
  })

  it('recovers as well when the origin serves only 20 % of the traffic, within the budget', () => {
    const low = metastableWithFetches({ seed: 2, capacity: 1000 })
    expect(low.naive.recoveredMs).toBeNull()
    expect(low.slew.recoveredMs!).toBeLessThanOrEqual(1.2 * low.slew.idealRecoveryMs)
    expectWithinB2(low)
  })

  it('never exceeds the budget: any window of T holds at most burst + budget·(T + lease TTL)', () => {
    expect(m.burst).toBe(m.budget / 10)
    expect(m.leaseTtlMs).toBe(250)
    expectWithinB2(m)
    expect(m.slew.shed).toBeGreaterThan(0)
  })

  it('a fetch the caller gave up on is retried without refetching or recounting keys that landed', () => {
    // A timeout a little over the origin's latency: some hot-key fetches fail and are retried.
    // Those failures come whatever the load, over the 1 % error threshold, so the rate stays
    // low: a longer horizon than the default (60 s) for the refill to finish.
    const f = metastableWithFetches({
      clients: 10,
      hotKeys: 200,
      timeout: 70,
      seed: 1,
      horizon: 180_000,
    })
    expect(f.slew.failed).toBeGreaterThan(0)
    // Each hot key's share is counted once: the hit rate never passes the warm rate, and reaches it.
    for (const [sec, h] of f.slew.hitRate.entries()) {
      expect(h, `second ${sec}`).toBeLessThanOrEqual(f.warmHitRate + 1e-9)
    }
    expect(f.slew.recoveredMs).not.toBeNull()
    expect(f.slew.recoveredMs!).toBeGreaterThanOrEqual(f.slew.idealRecoveryMs)
    expect(f.slew.hitRate.at(-1)).toBeCloseTo(f.warmHitRate, 9)
    expectWithinB2(f)
  })
})

/**
 * Issue 17's margins grid (`npm run bench -- margins`, BENCHMARKS.md): its
 * worst cells, on their seeds. Rewarm at 5,000/s is the grid's worst (the
 * target, 1.1 × and 0.5 %, is not met there: these bound the figures
 * measured); metastable at 30 % and 40 % of traffic is within its 1.15
 * target (1.134 at worst, recovery timed to the 50 ms tick).
 */
describe('margins: the worst cells of the grid', () => {
  const ratioOf = (r: ReturnType<typeof simulateRewarmSlew>) =>
    r.completionMs /
    (((Math.floor(r.options.work / r.options.clients) * r.options.clients) / r.options.capacity) *
      1000)

  // The margins grid's worst rewarm cells (npm run bench -- margins): the slowest, 1.094 × ideal,
  // and the most over its latency target, 0.40 % of the run; issue 17 asks ≤ 1.1 and ≤ 0.5 %.
  it('rewarm: capacity 5,000/s seed 4 the slowest, 2,000/s seed 1 the most over target', {
    timeout: 180_000,
  }, () => {
    const slowest = simulateRewarmSlew({ capacity: 5000, seed: 4 })
    expect(ratioOf(slowest)).toBeLessThanOrEqual(1.1)
    expect(slowest.overTargetFraction).toBeLessThanOrEqual(0.005)
    const over = simulateRewarmSlew({ capacity: 2000, seed: 1 })
    expect(ratioOf(over)).toBeLessThanOrEqual(1.1)
    expect(over.overTargetFraction).toBeLessThanOrEqual(0.005)
  })

  it('metastable: within 1.15 × ideal at 30 % and 40 % of traffic, never over budget', {
    timeout: 60_000,
  }, () => {
    const thirty = metastableWithFetches({ capacity: 0.3 * 50 * 100, seed: 1 })
    expect(thirty.slew.recoveredMs!).toBeLessThanOrEqual(1.15 * thirty.slew.idealRecoveryMs)
    expectWithinB2(thirty)
    const forty = metastableWithFetches({ capacity: 0.4 * 50 * 100, seed: 5 })
    // The worst cell of the margins grid: 1.134 × ideal (recovery timed to the 50 ms tick).
    expect(forty.slew.recoveredMs!).toBeLessThanOrEqual(1.15 * forty.slew.idealRecoveryMs)
    expectWithinB2(forty)
  })

  it('metastable refuses a capacity under the steady miss load: no system recovers there', () => {
    // 50 clients × 100 rps × 10 % one-off = 500 fetches/s miss even when warm.
    expect(() => simulateMetastable({ capacity: 500 })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION', field: 'capacity' }),
    )
    expect(() =>
      simulateMetastable({ capacity: 400, oneOff: 0.05, seed: 1, horizon: 1000 }),
    ).not.toThrow()
  })
})

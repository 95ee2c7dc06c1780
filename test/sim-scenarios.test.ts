/**
 * The rewarm and metastable scenarios' targets, on fixed seeds (the
 * simulator is deterministic: these are figures, not timings).
 */
import { describe, expect, it } from 'vitest'
import { simulateMetastable } from '../src/sim/metastable.js'
import { simulateRewarm } from '../src/sim/rewarm.js'

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
})

describe('metastable failure', () => {
  const m = simulateMetastable({ seed: 1 })

  it('naive never recovers in the horizon; slew returns to the warm hit rate within 1.2 × ideal', () => {
    expect(m.warmHitRate).toBe(0.9)
    expect(m.capacity).toBe(0.3 * 50 * 100)
    expect(m.naive.recoveredMs).toBeNull()
    expect(m.slew.recoveredMs).not.toBeNull()
    expect(m.slew.recoveredMs!).toBeLessThanOrEqual(1.2 * m.slew.idealRecoveryMs)
    expect(Math.max(...m.naive.hitRate.slice(-10))).toBeLessThan(0.7)
    expect(Math.min(...m.slew.hitRate.slice(-10))).toBeGreaterThanOrEqual(0.9 - 1e-9)
  })

  it('recovers as well when the origin serves only 20 % of the traffic', () => {
    const low = simulateMetastable({ seed: 2, capacity: 1000 })
    expect(low.naive.recoveredMs).toBeNull()
    expect(low.slew.recoveredMs!).toBeLessThanOrEqual(1.2 * low.slew.idealRecoveryMs)
    expect(low.slew.peakPerSec).toBeLessThanOrEqual(low.budget / 10 + low.budget * 1.25)
  })

  it('never exceeds the budget', () => {
    // Burst (a tenth of the rate) + rate·(1 s + the 250 ms lease TTL).
    expect(m.slew.peakPerSec).toBeLessThanOrEqual(m.budget / 10 + m.budget * 1.25)
    expect(m.slew.shed).toBeGreaterThan(0)
  })
})

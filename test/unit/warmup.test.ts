import { describe, expect, it } from 'vitest'
import { AimdRate } from '../../src/warmup/aimd.js'

describe('adaptive rewarm rate (AIMD)', () => {
  const healthy = { p50: 50, p99: 60, errorRate: 0, samples: 500 }

  it('starts low, doubles until the first sign of trouble, then adds a step per interval', () => {
    const a = new AimdRate(1000, { targetLatencyMs: 100 })
    expect(a.rate).toBe(100)
    expect(a.update(healthy)).toBe(200)
    expect(a.update(healthy)).toBe(400)
    // A queue: the median rose above its lowest by a quarter of the headroom (100 − 60).
    // Leaving slow start goes back below the rate before the last doubling: 200 × 0.9.
    expect(a.update({ ...healthy, p50: 61 })).toBeCloseTo(180)
    expect(a.update(healthy)).toBeCloseTo(190)
    expect(a.update(healthy)).toBeCloseTo(200)
    expect(a.update({ ...healthy, p50: 61 })).toBeCloseTo(180)
  })

  it('backs off on errors and on p99 over the target, never below the floor or above the ceiling', () => {
    const a = new AimdRate(1000, { targetLatencyMs: 100, floor: 0.05 })
    a.update(healthy)
    expect(a.update({ ...healthy, errorRate: 0.2 })).toBeCloseTo(90)
    expect(a.update({ ...healthy, p99: 101 })).toBeCloseTo(81)
    for (let i = 0; i < 100; i++) a.update({ ...healthy, errorRate: 1 })
    expect(a.rate).toBeCloseTo(50)
    for (let i = 0; i < 500; i++) a.update(healthy)
    expect(a.rate).toBe(1000)
    a.ceiling = 400
    expect(a.rate).toBe(400)
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
    // Lowest p50 is 50 (not 20), so 55 is no queue.
    expect(a.update({ ...healthy, p50: 55 })).toBe(800)
  })

  it('does not learn its baselines from failing intervals', () => {
    const a = new AimdRate(1000, { targetLatencyMs: 100 })
    a.update(healthy) // 200
    // Connection refused at once: fast calls, all failing. A back-off, and nothing learned.
    expect(a.update({ p50: 1, p99: 2, errorRate: 1, samples: 500 })).toBeCloseTo(90)
    // Healthy again: 55 is no queue (the lowest median is 50, not 1), so the rate grows.
    expect(a.update({ ...healthy, p50: 55 })).toBeCloseTo(100)
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

  it('refuses bad options', () => {
    expect(() => new AimdRate(100, { decrease: 1.5 })).toThrow(/`decrease`/)
    expect(() => new AimdRate(100, { targetLatencyMs: 0 })).toThrow(/`targetLatencyMs`/)
  })
})

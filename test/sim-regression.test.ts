/**
 * The regression scenario (issue 14, item 8) on fixed seeds: the real engine
 * and gate code on the virtual clock. A config change that takes the error
 * rate from 1 % to 3 %, or p99 latency up 50 %, on the clients that apply
 * it is caught within 5 s (p95) of its first delivery, in the first wave,
 * and rolled back; noise alone pauses nothing, through the last wave and
 * the watch after completion; deliveries stay within the config budget
 * (burst + rate per second).
 */
import { describe, expect, it } from 'vitest'
import { simulateRegression } from '../src/sim/regression.js'

describe('the regression scenario', () => {
  it('catches error rate 1 % → 3 % within 5 s in the first wave, and rolls it back', () => {
    const r = simulateRegression({ clients: 10_000, runs: 20, metric: 'errorRate', effect: 2 })
    expect(r.detectionMs.p95).toBeLessThanOrEqual(5_000)
    expect(r.power).toBe(1)
    expect(r.caughtInFirstWave).toBe(1)
    expect(
      r.runs.every((run) => run.action === 'rollback' && run.finalState === 'rolled_back'),
    ).toBe(true)
    expect(r.peakPerSec).toBeLessThanOrEqual(r.budget * 1.1)
  })

  it('rolls back within 1.1 × its ideal (clients to revert ÷ rate), never over the budget', () => {
    // A first wave of 2,000 clients: most have the change when it is caught.
    const r = simulateRegression({ clients: 10_000, runs: 3, steps: [0.2, 1], effect: 2 })
    expect(r.runs.every((run) => run.reverted > 1_000)).toBe(true)
    expect(r.rollbackRatio).toBeLessThanOrEqual(1.1)
    // B1: burst (100) + rate (1,000/s) × 1 s in any second.
    expect(r.peakPerSec).toBeLessThanOrEqual(1_100)
  })

  it('catches p99 latency +50 % within 5 s in the first wave', () => {
    const r = simulateRegression({ clients: 10_000, runs: 20, metric: 'latencyP99', effect: 0.5 })
    expect(r.detectionMs.p95).toBeLessThanOrEqual(5_000)
    expect(r.caughtInFirstWave).toBe(1)
  })

  it('pauses nothing on noise alone, through the last wave and the watch after', () => {
    const r = simulateRegression({ clients: 1_000, runs: 40, effect: 0, seed: 7 })
    expect(r.falsePauseRate).toBeLessThanOrEqual(0.01)
    expect(r.runs.every((run) => run.finalState === 'completed')).toBe(true)
    expect(r.peakPerSec).toBeLessThanOrEqual(r.budget * 1.1)
  })
})

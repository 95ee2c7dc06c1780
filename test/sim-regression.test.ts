/**
 * The regression scenario (issue 14, item 8) on fixed seeds: the real engine
 * and gate code on the virtual clock. A config change that takes the error
 * rate from 1 % to 3 %, or p99 latency up 50 %, on the clients that apply
 * it is caught within 5 s (p95) of its first delivery, in the first wave,
 * and rolled back; noise alone pauses nothing, through the last wave and
 * the watch after completion; deliveries stay within the config budget
 * (burst + rate per second). Against a peer measured in the same runs (a
 * threshold analysis as Flagger and Argo Rollouts run one), it detects
 * sooner and exposes fewer client-seconds.
 */
import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../src/errors.js'
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

  describe('against the peer (a threshold analysis, as Flagger and Argo Rollouts)', () => {
    const options = { clients: 1_000, runs: 4, seed: 3, peer: true } as const

    it.each([
      ['errorRate', 2],
      ['latencyP99', 0.5],
    ] as const)(
      '%s × (1 + %s): detects sooner and exposes less, in the same runs',
      (metric, effect) => {
        const r = simulateRegression({ ...options, metric, effect })
        const p = r.peer!
        const ms = (d: { p50?: number; p95?: number }) => `p50 ${d.p50} ms, p95 ${d.p95} ms`
        // The peer catches it too (late): the comparison is against a peer that works.
        expect(p.caught, 'runs the peer rolled back').toBe(1)
        expect(
          p.detectionRatio,
          `detection: ours ${ms(r.detectionMs)}; peer ${ms(p.detectionMs)}`,
        ).toBeLessThan(1)
        expect(
          p.exposureRatio,
          `exposure (client-seconds ÷ fleet): ours ${r.exposure.mean}, peer ${p.exposure.mean}`,
        ).toBeLessThan(1)
        expect(p.runs).toHaveLength(r.runs.length)
        expect(p.runs.every((run) => run.finalState === 'rolled_back')).toBe(true)
      },
    )

    it('is deterministic for a seed', () => {
      const a = simulateRegression({ ...options, runs: 2 })
      const b = simulateRegression({ ...options, runs: 2 })
      expect(b.peer).toEqual(a.peer)
      expect(b.detectionMs).toEqual(a.detectionMs)
      expect(b.exposure).toEqual(a.exposure)
    })

    it('runs only with `peer`; its flags without it are refused', () => {
      expect(simulateRegression({ clients: 200, runs: 1 }).peer).toBeUndefined()
      expect(() => simulateRegression({ clients: 200, runs: 1, peerFailures: 3 })).toThrow(
        InvalidOptionError,
      )
    })
  })
})

/**
 * Config ramps (issue 14, item 5): whatever the monotonic readings a client
 * takes (repeated, out of order, far apart), its value moves only towards
 * `to`, never past it, and in any one minute by at most the ramp's pace:
 * `perMinute` of the value at the minute's start, or `stepPerMinute` units;
 * held (its rollout paused), it does not move at all until released.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  RampRun,
  type RampSpec,
  rampDurationMs,
  rampProblem,
  rampValue,
} from '../../src/invalidation/ramp.js'
import { params } from './runs.js'

const finite = (min: number, max: number) =>
  fc.double({ min, max, noNaN: true, noDefaultInfinity: true })

/** Ramps that last between a few seconds and an hour, up or down, either pace. */
const rampArb: fc.Arbitrary<RampSpec> = fc.oneof(
  fc
    .record({
      from: finite(0.001, 1e6),
      sign: fc.constantFrom(1, -1),
      p: finite(0.005, 1),
      minutes: finite(0.05, 60),
      grows: fc.boolean(),
    })
    .map(({ from, sign, p, minutes, grows }) => ({
      from: sign * from,
      to: sign * from * (grows ? 1 + p : Math.max(1 - p, 1e-3)) ** minutes,
      perMinute: p,
    })),
  fc
    .record({ from: finite(-1e6, 1e6), to: finite(-1e6, 1e6), minutes: finite(0.05, 60) })
    .filter(({ from, to }) => Math.abs(to - from) >= 1e-6 * Math.max(1, Math.abs(from)))
    .map(({ from, to, minutes }) => ({ from, to, stepPerMinute: Math.abs(to - from) / minutes })),
)

/**
 * Monotonic readings' steps in ms: mostly forwards, sometimes repeated or
 * back; before some, the ramp is held or released.
 */
const readingsArb = fc.array(
  fc.tuple(
    fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 120_000 }) },
      { weight: 1, arbitrary: fc.constant(0) },
      { weight: 2, arbitrary: fc.integer({ min: -600_000, max: -1 }) },
    ),
    fc.constantFrom('go', 'go', 'go', 'go', 'hold', 'release'),
  ),
  { minLength: 2, maxLength: 60 },
)

describe('a config ramp', () => {
  it('moves towards its target at most its pace per minute, whatever the clock and holds do', () => {
    fc.assert(
      fc.property(rampArb, readingsArb, (spec, steps) => {
        expect(rampProblem(spec)).toBeUndefined()
        const run = new RampRun(spec)
        let mono = 1_000_000
        const seen: Array<{ t: number; v: number }> = []
        let elapsed = 0
        let held: number | undefined
        for (const [d, op] of steps) {
          mono += d
          if (op === 'hold') run.hold(mono)
          if (op === 'release') run.release(mono)
          const v = run.at(mono)
          // Held, it stands where it was held, however the clock moves.
          if (run.held) {
            held ??= v
            expect(v).toBe(held)
          } else held = undefined
          elapsed = Math.max(elapsed, mono - (1_000_000 + steps[0]![0]))
          seen.push({ t: elapsed, v })
        }
        const lo = Math.min(spec.from, spec.to)
        const hi = Math.max(spec.from, spec.to)
        const tol = (x: number) => 1e-9 * Math.max(1, Math.abs(x))
        for (let i = 0; i < seen.length; i++) {
          const a = seen[i]!
          expect(a.v).toBeGreaterThanOrEqual(lo - tol(lo))
          expect(a.v).toBeLessThanOrEqual(hi + tol(hi))
          for (let j = i + 1; j < seen.length; j++) {
            const b = seen[j]!
            // Towards `to` only: never back towards `from`.
            expect(Math.abs(spec.to - b.v)).toBeLessThanOrEqual(Math.abs(spec.to - a.v) + tol(a.v))
            const dt = b.t - a.t
            if (dt > 60_000) continue
            const moved = Math.abs(b.v - a.v)
            const slack = 1e-9 * Math.max(1, Math.abs(a.v), Math.abs(spec.to))
            if (spec.stepPerMinute !== undefined) {
              // Linear: the pace holds over every interval, not just per minute.
              expect(moved).toBeLessThanOrEqual((spec.stepPerMinute * dt) / 60_000 + slack)
            } else {
              const p = spec.perMinute!
              const grows = Math.abs(spec.to) > Math.abs(spec.from)
              // Growing, (1+p)^x − 1 ≤ p·x for x ≤ 1; shrinking, the minute's cap.
              const cap = grows ? (p * Math.abs(a.v) * dt) / 60_000 : p * Math.abs(a.v)
              expect(moved).toBeLessThanOrEqual(cap + slack)
            }
          }
        }
      }),
      params(),
    )
  })

  it('reaches its target when its duration is over', () => {
    fc.assert(
      fc.property(rampArb, (spec) => {
        const d = rampDurationMs(spec)
        expect(d).toBeGreaterThanOrEqual(0)
        const v = rampValue(spec, d + 1)
        expect(Math.abs(v - spec.to)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(spec.to)))
      }),
      params(),
    )
  })

  it('says why a ramp cannot run', () => {
    expect(rampProblem({ from: 0, to: 10, perMinute: 0.1 })).toMatch(/cannot cross or start from 0/)
    expect(rampProblem({ from: 5, to: 10 })).toMatch(/exactly one/)
    expect(rampProblem({ from: 5, to: 10, perMinute: 0.1, stepPerMinute: 1 })).toMatch(
      /exactly one/,
    )
    expect(rampProblem({ from: 5, to: 10, perMinute: 1.5 })).toMatch(/\(0, 1]/)
    expect(rampProblem({ from: Number.NaN, to: 10, stepPerMinute: 1 })).toMatch(/numeric value/)
    expect(rampProblem({ from: 1, to: 10, stepPerMinute: 0 })).toMatch(/> 0/)
  })
})

/**
 * The cohort gate's statistics (issue 14, item 2): the moments merge exactly;
 * on noise alone, looked at after every heartbeat, the gate fails no more
 * often than its alpha; a real regression is shown within a few looks; and
 * each verdict means what it says (idle, no-data, inconclusive, pass, fail).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type CheckSpec, type Cohort, evaluateCheck } from '../../src/gates/check.js'
import { addSample, EMPTY, type Moments, mergeMoments, variance } from '../../src/gates/moments.js'
import { params } from './runs.js'

/** A seeded generator (mulberry32): the figures below are the same on every machine. */
const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const binomial = (r: () => number, n: number, p: number) => {
  let k = 0
  for (let i = 0; i < n; i++) if (r() < p) k++
  return k
}
const lognormal = (r: () => number, median: number, sigma: number) =>
  median * Math.exp(sigma * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()))

const ERRORS: CheckSpec = { metric: 'errorRate', worse: 'higher', minEffect: 0.005 }
const P99: CheckSpec = { metric: 'latencyP99', worse: 'higher', minEffect: 0.2, relative: true }
const ctx = (now: number) => ({ alpha: 0.005, minSamples: 20, silentAfterMs: 5_000, now })
const cohort = (moments: Moments, at?: number, clients = 10): Cohort => ({
  clients,
  moments,
  lastSampleAt: at,
})

/** Looks (one per second) until the gate fails; 0 if it never does. */
const firstFail = (
  spec: CheckSpec,
  perLook: number,
  looks: number,
  treated: () => number,
  control: () => number,
): number => {
  let t = EMPTY
  let c = EMPTY
  for (let look = 1; look <= looks; look++) {
    for (let i = 0; i < perLook; i++) {
      t = addSample(t, treated())
      c = addSample(c, control())
    }
    const now = look * 1000
    const v = evaluateCheck(spec, cohort(t, now, perLook), cohort(c, now, perLook), ctx(now))
    if (v.verdict === 'fail') return look
  }
  return 0
}

describe('moments', () => {
  it('merge exactly, in any split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { maxLength: 50 }),
        fc.nat(),
        (xs, cut) => {
          const k = xs.length === 0 ? 0 : cut % (xs.length + 1)
          const all = xs.reduce(addSample, EMPTY)
          const merged = mergeMoments(
            xs.slice(0, k).reduce(addSample, EMPTY),
            xs.slice(k).reduce(addSample, EMPTY),
          )
          expect(merged.n).toBe(all.n)
          expect(merged.mean).toBeCloseTo(all.mean, 3)
          expect(variance(merged)).toBeCloseTo(variance(all), -2)
        },
      ),
      params(),
    )
  })
})

describe('the cohort gate', () => {
  it('fails on noise at most alpha of the time, looked at every second', () => {
    const r = rng(1)
    const runs = 1000
    let errorFails = 0
    let latencyFails = 0
    for (let i = 0; i < runs; i++) {
      const calls = 5 + Math.floor(r() * 200)
      const rate = () => binomial(r, calls, 0.01) / calls
      if (firstFail(ERRORS, 1 + (i % 20), 60, rate, rate)) errorFails++
      const p99 = () => lognormal(r, 120, 0.6)
      if (firstFail(P99, 1 + (i % 20), 60, p99, p99)) latencyFails++
    }
    expect(errorFails / runs).toBeLessThanOrEqual(0.005)
    expect(latencyFails / runs).toBeLessThanOrEqual(0.005)
  })

  it('shows error rate 1 % → 3 % and p99 +50 % within two looks of 100 clients', () => {
    const r = rng(2)
    const looks: number[] = []
    for (let i = 0; i < 200; i++) {
      looks.push(
        firstFail(
          ERRORS,
          100,
          30,
          () => binomial(r, 100, 0.03) / 100,
          () => binomial(r, 100, 0.01) / 100,
        ),
      )
      looks.push(
        firstFail(
          P99,
          100,
          30,
          () => lognormal(r, 180, 0.3),
          () => lognormal(r, 120, 0.3),
        ),
      )
    }
    expect(looks.every((l) => l >= 1 && l <= 2)).toBe(true)
  })

  it('gives each verdict its meaning', () => {
    const r = rng(3)
    const fill = (n: number, f: () => number) =>
      Array.from({ length: n }, f).reduce(addSample, EMPTY)
    const same = () => binomial(r, 100, 0.01) / 100
    // No samples anywhere: a quiet fleet holds nothing.
    expect(evaluateCheck(ERRORS, cohort(EMPTY), cohort(EMPTY), ctx(10_000)).verdict).toBe('idle')
    // The treated cohort silent while the control reports: hold (the change may stop its calls).
    const live = fill(30, same)
    expect(evaluateCheck(ERRORS, cohort(EMPTY), cohort(live, 9_000), ctx(10_000)).verdict).toBe(
      'no-data',
    )
    // A control with no origin calls is quiet: nothing to compare with, nothing held; a control
    // that stopped sending an app signal is missing data: hold.
    expect(evaluateCheck(ERRORS, cohort(live, 9_000), cohort(EMPTY), ctx(10_000)).verdict).toBe(
      'idle',
    )
    const SIGNAL = { metric: 'orders', worse: 'lower' as const, minEffect: 0.1, relative: true }
    expect(evaluateCheck(SIGNAL, cohort(live, 9_000), cohort(EMPTY), ctx(10_000)).verdict).toBe(
      'no-data',
    )
    // Both reported, then went silent: an app signal that stopped holds; origin figures that
    // stopped are a fleet with no origin calls, nothing to harm.
    const ORDERS = { metric: 'orders', worse: 'lower' as const, minEffect: 0.1, relative: true }
    expect(
      evaluateCheck(ORDERS, cohort(live, 1_000), cohort(live, 1_000), ctx(10_000)).verdict,
    ).toBe('no-data')
    expect(
      evaluateCheck(ERRORS, cohort(live, 1_000), cohort(live, 1_000), ctx(10_000)).verdict,
    ).toBe('idle')
    // Too few samples to pass, however alike.
    const few = fill(5, same)
    expect(evaluateCheck(ERRORS, cohort(few, 9_000), cohort(few, 9_000), ctx(10_000)).verdict).toBe(
      'inconclusive',
    )
    // Enough and alike: pass, with the evidence.
    const a = fill(200, same)
    const b = fill(200, same)
    const pass = evaluateCheck(ERRORS, cohort(a, 9_000), cohort(b, 9_000), ctx(10_000))
    expect(pass.verdict).toBe('pass')
    expect(pass.effect!.upper).toBeLessThan(pass.threshold)
    expect(pass.treated.samples).toBe(200)
    // Worse is lower (an order rate): a drop fails, a rise passes.
    const orders: CheckSpec = { metric: 'orders', worse: 'lower', minEffect: 0.1, relative: true }
    const base = fill(100, () => 100 + 10 * (r() - 0.5))
    const drop = fill(100, () => 60 + 10 * (r() - 0.5))
    const rise = fill(100, () => 140 + 10 * (r() - 0.5))
    expect(
      evaluateCheck(orders, cohort(drop, 9_000), cohort(base, 9_000), ctx(10_000)).verdict,
    ).toBe('fail')
    expect(
      evaluateCheck(orders, cohort(rise, 9_000), cohort(base, 9_000), ctx(10_000)).verdict,
    ).toBe('pass')
    // A regression smaller than the one that matters, once shown small, passes.
    const slight = fill(20_000, () => 100.5 + 10 * (r() - 0.5))
    const ref = fill(20_000, () => 100 + 10 * (r() - 0.5))
    const small = evaluateCheck(
      { metric: 'ms', worse: 'higher', minEffect: 0.02, relative: true },
      cohort(slight, 9_000),
      cohort(ref, 9_000),
      ctx(10_000),
    )
    expect(small.effect!.lower).toBeGreaterThan(0)
    expect(small.verdict).toBe('pass')
  })
})

/**
 * One rollout's cohort gate: samples go to the cohort the client is in at
 * the time (control until it applies, treated after); a control client that
 * applies leaves the control; a baseline gate counts every client against
 * the frozen figures; verdicts combine worst first, idle holding nothing.
 */
import { describe, expect, it } from 'vitest'
import { CohortGate, combine, controlSample } from '../../src/gates/cohorts.js'
import { addSample, EMPTY } from '../../src/gates/moments.js'
import { samplesOf } from '../../src/gates/samples.js'
import { SampleWindow } from '../../src/gates/window.js'

const options = {
  checks: [{ metric: 'errorRate', worse: 'higher' as const, minEffect: 0.005 }],
  alpha: 0.01,
  minSamples: 20,
  silentAfterMs: 3_000,
}

describe('samplesOf', () => {
  it('takes origin figures only from intervals with calls, and app signals as sent', () => {
    expect(samplesOf({ calls: 0, errorRate: 0.5, latencyP99: 90 })).toEqual({})
    expect(samplesOf({ calls: 3, errorRate: 0.5, latencyP99: 90, metrics: { orders: 4 } })).toEqual(
      { errorRate: 0.5, latencyP99: 90, orders: 4 },
    )
    // An app signal cannot pose as an origin figure.
    expect(samplesOf({ metrics: { errorRate: 0 } })).toEqual({})
    // Counts as rates per second over the interval; observations as the interval's mean.
    expect(
      samplesOf({
        intervalMs: 500,
        metrics: { orders: 4 },
        observed: { 'pay.ms': { n: 4, sum: 100 }, none: { n: 0, sum: 0 } },
      }),
    ).toEqual({ orders: 8, 'pay.ms': 25 })
  })
})

describe('controlSample', () => {
  it('picks the same clients whatever their order, and no more than asked', () => {
    const ids = Array.from({ length: 50 }, (_, i) => `app-${i}`)
    const a = controlSample(ids, 7, 'chg-1')
    expect(a).toHaveLength(7)
    expect(controlSample([...ids].reverse(), 7, 'chg-1')).toEqual(a)
    expect(controlSample(ids, 7, 'chg-2')).not.toEqual(a)
    expect(controlSample(ids.slice(0, 3), 7, 'chg-1')).toHaveLength(3)
  })
})

describe('combine', () => {
  it('gives the worst verdict; idle checks hold nothing', () => {
    expect(combine(['pass', 'fail', 'no-data'])).toBe('fail')
    expect(combine(['pass', 'no-data', 'inconclusive'])).toBe('no-data')
    expect(combine(['pass', 'inconclusive'])).toBe('inconclusive')
    expect(combine(['pass', 'idle'])).toBe('pass')
    expect(combine(['idle', 'idle'])).toBe('idle')
    expect(combine([])).toBe('idle')
  })
})

describe('CohortGate', () => {
  it('counts a client as control until it applies, treated after', () => {
    const g = new CohortGate(options)
    g.addControl(['c1', 'c2'])
    g.applied('t1')
    for (let s = 1; s <= 30; s++) {
      g.sample('t1', { errorRate: 0.2 }, s * 100)
      g.sample('c1', { errorRate: 0 }, s * 100)
      g.sample('c2', { errorRate: 0 }, s * 100)
      g.sample('nobody', { errorRate: 0.9 }, s * 100)
    }
    let r = g.evaluate(3_000)
    expect(r.checks[0]!.treated).toMatchObject({ clients: 1, samples: 30, mean: 0.2 })
    expect(r.checks[0]!.control).toMatchObject({ clients: 2, samples: 60, mean: 0 })
    expect(r.verdict).toBe('fail')
    g.applied('c2')
    expect(g.isControl('c2')).toBe(false)
    g.sample('c2', { errorRate: 0.2 }, 3_100)
    r = g.evaluate(3_100)
    expect(r.checks[0]!.treated.clients).toBe(2)
    expect(r.checks[0]!.treated.samples).toBe(31)
    // Adding control never takes a treated client back.
    g.addControl(['t1'])
    expect(g.isControl('t1')).toBe(false)
  })

  it('holds on no-data when the treated cohort stops reporting', () => {
    const g = new CohortGate(options)
    g.addControl(['c'])
    g.applied('t')
    for (let s = 1; s <= 30; s++) {
      g.sample('t', { errorRate: 0 }, s * 100)
      g.sample('c', { errorRate: 0 }, s * 100)
    }
    expect(g.evaluate(3_000).verdict).toBe('pass')
    for (let s = 31; s <= 80; s++) g.sample('c', { errorRate: 0 }, s * 100)
    expect(g.evaluate(8_000)).toMatchObject({ verdict: 'no-data' })
  })

  it('against a baseline, counts every client and never calls the baseline silent', () => {
    const baseline = { errorRate: Array.from({ length: 100 }, () => 0.01).reduce(addSample, EMPTY) }
    const g = new CohortGate(options, baseline)
    expect(g.againstBaseline).toBe(true)
    for (let s = 0; s < 50; s++) g.sample(`app-${s}`, { errorRate: s % 2 ? 0.2 : 0.3 }, 1_000)
    const r = g.evaluate(1_500)
    expect(r.verdict).toBe('fail')
    expect(r.checks[0]!.treated).toMatchObject({ clients: 50, samples: 50 })
    expect(r.checks[0]!.control).toMatchObject({ samples: 100 })
    // The fleet makes no origin calls any more: nothing to harm, nothing held.
    expect(g.evaluate(61_000).checks[0]).toMatchObject({
      verdict: 'idle',
      reason: 'no origin calls lately',
    })
    // An app signal the fleet was reporting went silent: hold, not judge.
    const orders = new CohortGate(
      { ...options, checks: [{ metric: 'orders', worse: 'lower', minEffect: 1 }] },
      { orders: Array.from({ length: 100 }, () => 50).reduce(addSample, EMPTY) },
    )
    orders.sample('app-1', { orders: 48 }, 1_000)
    expect(orders.evaluate(61_000).verdict).toBe('no-data')
    // With no baseline for a metric, nothing to compare: idle until clients report.
    const none = new CohortGate(options, {})
    none.sample('app-1', { errorRate: 0.5 }, 0)
    expect(none.evaluate(0).checks[0]).toMatchObject({ verdict: 'idle', treated: { samples: 1 } })
  })
})

describe('SampleWindow', () => {
  it('keeps the last window of samples per metric', () => {
    const w = new SampleWindow(10_000)
    for (let t = 0; t < 30_000; t += 500) w.add({ errorRate: t < 20_000 ? 1 : 0, orders: 2 }, t)
    const snap = w.snapshot(30_000)
    expect(snap.errorRate!.mean).toBe(0)
    expect(snap.errorRate!.n).toBe(20)
    expect(snap.orders!.n).toBe(20)
    expect(w.snapshot(100_000)).toEqual({})
  })
})

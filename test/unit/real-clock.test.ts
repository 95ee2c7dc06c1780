/** The same engine on the real clock: the budget bound holds by construction there too. */
import { describe, expect, it } from 'vitest'
import { type Delivery, Engine } from '../../src/invalidation/engine.js'
import { realClock } from '../../src/limiter/clock.js'
import { SlidingPeak } from '../../src/limiter/window.js'

describe('engine on the real clock', () => {
  it('never delivers more than burst + rate·T in any window', async () => {
    const deliveries: Delivery[] = []
    let done!: () => void
    const finished = new Promise<void>((resolve) => {
      done = resolve
    })
    const engine = new Engine({
      clock: realClock,
      config: {
        budgets: { invalidate: { ratePerSec: 200, burst: 10 } },
        waves: { steps: [0.5, 1], bakeMs: 20 },
      },
      deliver: (d) => deliveries.push(d),
      onEvent: (e) => {
        if (e.type === 'state' && e.to === 'completed') done()
      },
    })
    for (let i = 0; i < 60; i++) engine.join(`c${i}`, { entries: 1 })
    engine.submit({ kind: 'invalidate', target: { all: true } })
    await finished
    engine.close()
    expect(deliveries.reduce((n, d) => n + d.clientIds.length, 0)).toBe(60)
    for (const w of [5, 50, 100, 250]) {
      const peak = new SlidingPeak(w)
      for (const d of deliveries) peak.add(d.at, d.cost)
      expect(peak.peak).toBeLessThanOrEqual(10 + (200 * w) / 1000 + 1e-3)
    }
  })
})

describe('realClock timers', () => {
  // Before (443d3ba): setTimeout(fn, 2^40) ran fn after 1 ms with a TimeoutOverflowWarning, so a
  // pacer in 1.8e16 ms of debt woke every millisecond (thousands of warnings, 14 % of a core).
  it('sleeps longer than 2^31 − 1 ms without firing early or warning', async () => {
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.name)
    process.on('warning', onWarning)
    try {
      let fired = 0
      const timers = [2 ** 31, 2 ** 40, 1.8e16, Number.POSITIVE_INFINITY].map((ms) =>
        realClock.setTimer(ms, () => fired++),
      )
      let short = false
      realClock.setTimer(5, () => {
        short = true
      })
      await new Promise((r) => setTimeout(r, 60))
      for (const t of timers) t.cancel()
      expect(short).toBe(true)
      expect(fired).toBe(0)
      expect(warnings).not.toContain('TimeoutOverflowWarning')
    } finally {
      process.off('warning', onWarning)
    }
  })
})

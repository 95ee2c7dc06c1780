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

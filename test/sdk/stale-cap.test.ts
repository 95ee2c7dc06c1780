/** The guard's stale cap: an invalidation over the per-minute cap is applied as the cap allows; nothing is dropped. */
import { describe, expect, it } from 'vitest'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'
import { StaleCap } from '../../src/sdk/stale-cap.js'

describe('StaleCap', () => {
  it('applies at most the cap per minute, in order, and all of it in the end', () => {
    const clock = new VirtualClock(0)
    const cap = new StaleCap(120, clock) // 120 per minute: 60 at once, then 1 per second
    const applied: [number, string][] = []
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`)
    cap.submit(keys, (ks) => {
      for (const k of ks) applied.push([clock.now(), k])
    })
    expect(applied).toHaveLength(60)
    expect(cap.waiting).toBe(240)
    clock.advance(30_000)
    expect(applied).toHaveLength(90)
    clock.runAll()
    expect(applied.map(([, k]) => k)).toEqual(keys)
    expect(cap.waiting).toBe(0)
    // Never more than the cap in any minute.
    for (const [t] of applied) {
      const inMinute = applied.filter(([u]) => u >= t && u < t + 60_000).length
      expect(inMinute).toBeLessThanOrEqual(120)
    }
  })
})

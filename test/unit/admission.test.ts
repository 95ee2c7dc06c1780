/**
 * Admission (B3) on a virtual clock: however a herd arrives and however late
 * or early each refused client comes back, new streams admitted in any
 * [t, t+T) stay within burst + rate·T, and every client gets in.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Admission } from '../../src/coordinator/admission.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'

/** The most any window [t_i, t_j] of admission times exceeds burst + rate·T by. */
const worstExcess = (times: readonly number[], rate: number, burst: number): number => {
  let worst = Number.NEGATIVE_INFINITY
  for (let i = 0; i < times.length; i++) {
    for (let j = i + 1; j < times.length; j++) {
      const excess = j - i + 1 - (burst + (rate * (times[j]! - times[i]!)) / 1000)
      if (excess > worst) worst = excess
    }
  }
  return worst
}

describe('admission', () => {
  it('holds B3 and lets everyone in, whenever refused clients come back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 200 }),
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.integer({ min: 0, max: 2000 }), { minLength: 1, maxLength: 250 }),
        // How late each return is, as a fraction of what the client was told (< 0: early).
        fc.array(fc.double({ min: -0.2, max: 0.6, noNaN: true }), {
          minLength: 1,
          maxLength: 64,
        }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (rate, burst, arrivals, lateness, seed) => {
          const clock = new VirtualClock(0)
          let s = seed
          const random = () => {
            s = (s * 1103515245 + 12345) % 2 ** 31
            return s / 2 ** 31
          }
          const admission = new Admission({ ratePerSec: rate, burst }, clock, random)
          /** Pending arrivals: [at, client]; kept sorted by time. */
          const queue: [number, string][] = arrivals.map((at, i) => [at, `c${i}`])
          const admitted: number[] = []
          const inside = new Set<string>()
          let k = 0
          while (queue.length > 0) {
            queue.sort((a, b) => a[0] - b[0])
            const [at, id] = queue.shift()!
            clock.advance(Math.max(0, at - clock.now()))
            const d = admission.decide(id)
            if (d.admitted) {
              admitted.push(clock.now())
              inside.add(id)
              continue
            }
            expect(d.retryAfterMs).toBeGreaterThan(0)
            const late = lateness[k++ % lateness.length]!
            queue.push([clock.now() + Math.max(1, d.retryAfterMs * (1 + late)), id])
          }
          expect(inside.size).toBe(arrivals.length)
          expect(worstExcess(admitted, rate, burst)).toBeLessThanOrEqual(1e-3)
          // And nobody waits behind the whole herd more than once: the last gets in about
          // when the rate allows, with room for the returns' lateness and jitter.
          const ideal = Math.max(...arrivals) + (Math.max(0, arrivals.length - burst) / rate) * 1000
          expect(Math.max(...admitted)).toBeLessThanOrEqual(2 * ideal + 5000 + 3000 / rate)
        },
      ),
      { numRuns: 200 },
    )
  })
})

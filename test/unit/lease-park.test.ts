/**
 * A parked lease asks the budget a bounded number of times however small
 * the retryAfterMs it is told (its waits double from 5 ms to 50 ms), so
 * many clients waiting cannot turn into a storm of store calls (a Lua call
 * each on Redis); only rewarm leases wait. The budget here is a real engine's whose tokens another client
 * takes as soon as they come: every ask of the parked one is refused with
 * a retry due within a few ms.
 */
import { describe, expect, it } from 'vitest'
import { parkedLease } from '../../src/coordinator/lease-park.js'
import { Engine } from '../../src/invalidation/engine.js'
import { realClock } from '../../src/limiter/clock.js'
import type { TokenClass } from '../../src/model/budget.js'

describe('a parked lease', () => {
  it('asks at most a dozen times in its wait, and answers the last refusal', async () => {
    const engine = new Engine({
      clock: realClock,
      config: {
        budgets: {
          rewarm: { ratePerSec: 1000, burst: 1 },
          invalidate: { ratePerSec: 1000, burst: 1 },
        },
      },
    })
    let asks = 0
    const runtime = {
      lease: async (clientId: string, want: number, cls: TokenClass) => {
        // The hog drains the bucket first, every time: nothing is left for the parked lease.
        while (engine.lease('hog', 1000, cls).granted > 0) {}
        asks++
        return engine.lease(clientId, want, cls)
      },
    }
    try {
      const grant = await parkedLease(runtime, 'parked', 1, 'rewarm')
      expect(grant.granted).toBe(0)
      expect(grant.retryAfterMs).toBeLessThan(10)
      expect(asks).toBeGreaterThan(1)
      expect(asks).toBeLessThanOrEqual(12)
      // An invalidate lease is answered at once (a reader may wait on it): one ask.
      asks = 0
      expect((await parkedLease(runtime, 'reader', 1, 'invalidate')).granted).toBe(0)
      expect(asks).toBe(1)
    } finally {
      engine.close()
    }
  })
})

/** The fleet tracker keeps a client's last heartbeat, not its key sketch (a filter can be 100 KB). */
import { describe, expect, it } from 'vitest'
import { FleetTracker } from '../../src/coordinator/fleet.js'
import { heartbeatSchema } from '../../src/protocol/messages.js'

describe('FleetTracker', () => {
  it('keeps a heartbeat without its key sketch', () => {
    const fleet = new FleetTracker()
    const rest = {
      ackedSeq: 7,
      entries: 120,
      capacity: 1000,
      calls: 3,
      latencyP50: 2,
      latencyP99: 9,
      errorRate: 0,
      rejected: {},
      configDigest: 'd',
      epoch: 'e',
      intervalMs: 10_000,
      metrics: { orders: 4 },
      observed: { checkout_ms: { n: 1, sum: 20, max: 20 } },
    }
    const sketch = { added: ['k1'], filter: { m: 64, k: 3, bits: 'AAAAAAAAAAA' } }
    fleet.heartbeat('a', heartbeatSchema.parse({ ...rest, sketch }), 1000)
    expect(fleet.health('a')).toEqual({ ...rest, at: 1000, n: 1 })
  })
})

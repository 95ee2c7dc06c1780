/** The fleet tracker keeps what is read of a heartbeat, not its app signals or key sketch. */
import { describe, expect, it } from 'vitest'
import { FleetTracker } from '../../src/coordinator/fleet.js'
import { heartbeatSchema } from '../../src/protocol/messages.js'

describe('FleetTracker', () => {
  it('keeps a heartbeat without its signals, sketch or interval', () => {
    const fleet = new FleetTracker()
    const hb = heartbeatSchema.parse({
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
      sketch: { added: ['k1'], filter: { m: 64, k: 3, bits: 'AAAAAAAAAAA' } },
    })
    fleet.heartbeat('a', hb, 1000)
    expect(fleet.health('a')).toEqual({
      ackedSeq: 7,
      entries: 120,
      capacity: 1000,
      calls: 3,
      latencyP50: 2,
      latencyP99: 9,
      errorRate: 0,
      configDigest: 'd',
      epoch: 'e',
      at: 1000,
      n: 1,
    })
  })
})

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

  it('counts a rollout as refused by the connected clients that refuse everything and hold it unacked', () => {
    const fleet = new FleetTracker()
    const refusing = { reason: 'bad-signature' as const, count: 5 }
    fleet.delivered(['a', 'b', 'c', 'd'], 1, 'chg-1', 0)
    fleet.delivered(['a'], 2, 'chg-2', 0)
    fleet.heartbeat('a', { refusing }, 10)
    fleet.heartbeat('b', { refusing: { reason: 'wrong-fleet', count: 2 } }, 10)
    fleet.heartbeat('c', { entries: 3 }, 10)
    const connected = new Set(['a', 'b', 'c'])
    expect(fleet.refusedBy('chg-1', connected)).toEqual({
      count: 2,
      reasons: ['bad-signature', 'wrong-fleet'],
    })
    expect(fleet.refusedBy('chg-2', connected)).toEqual({ count: 1, reasons: ['bad-signature'] })
    // Not connected, acked, recovered, or forgotten: not counted.
    expect(fleet.refusedBy('chg-1', new Set(['b', 'c']))).toEqual({
      count: 1,
      reasons: ['wrong-fleet'],
    })
    fleet.heartbeat('b', { refusing: { reason: 'wrong-fleet', count: 2 }, ackedSeq: 1 }, 20)
    expect(fleet.refusedBy('chg-1', connected).count).toBe(1)
    fleet.heartbeat('a', { entries: 1 }, 20)
    expect(fleet.refusedBy('chg-1', connected).count).toBe(0)
    fleet.heartbeat('a', { refusing }, 30)
    expect(fleet.refusedBy('chg-2', connected).count).toBe(1)
    fleet.forget('a')
    expect(fleet.refusedBy('chg-2', connected).count).toBe(0)
  })
})

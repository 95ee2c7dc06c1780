/** What a replica tells the leader of a heartbeat: the fields the leader reads, within HEARTBEAT_EVENT_BYTES. */
import { describe, expect, it } from 'vitest'
import {
  HEARTBEAT_EVENT_BYTES,
  heartbeatEvent,
} from '../../src/coordinator/replica/fleet-events.js'
import { heartbeatSchema, rejectReasons } from '../../src/protocol/messages.js'

describe('heartbeatEvent', () => {
  it('carries what the leader reads, the signals the gates compare, not rewarm reports', () => {
    const hb = heartbeatSchema.parse({
      ackedSeq: 7,
      calls: 5,
      errorRate: 0.1,
      intervalMs: 1000,
      metrics: { orders: 3 },
      observed: { checkoutMs: { n: 2, sum: 30, max: 20 } },
      rewarm: { 'chg-1': { done: 1, total: 2, cursor: 1 } },
    })
    const { rewarm: _r, ...leader } = hb
    expect(JSON.parse(heartbeatEvent('app-1', hb, 'replica-1'))).toEqual({
      t: 'hb',
      c: 'app-1',
      h: leader,
      r: 'replica-1',
    })
  })

  it('leaves the signals out, not the health, when they would pass the cap', () => {
    const hb = heartbeatSchema.parse({
      ackedSeq: 7,
      entries: 10,
      capacity: 20,
      latencyP50: 1,
      latencyP99: 2,
      errorRate: 0.1,
      calls: 5,
      rejected: { 'bad-signature': 1 },
      refusing: { reason: 'bad-signature', count: 3 },
      configDigest: 'c'.repeat(64),
      epoch: 'e'.repeat(64),
      metrics: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`m${i}`.repeat(30), i])),
      rewarm: { 'chg-1': { done: 1, total: 2, cursor: 1 } },
    })
    const { metrics: _m, rewarm: _r, ...leader } = hb
    const event = JSON.parse(heartbeatEvent('app-1', hb, 'replica-1'))
    expect(event).toEqual({ t: 'hb', c: 'app-1', h: leader, r: 'replica-1' })
  })

  it('is at most HEARTBEAT_EVENT_BYTES for the largest heartbeat the schema takes', () => {
    const hb = heartbeatSchema.parse({
      ackedSeq: Number.MAX_SAFE_INTEGER,
      entries: 1e9,
      capacity: 1e9,
      latencyP50: 3_599_999.123456789,
      latencyP99: 3_599_999.123456789,
      errorRate: 0.123456789012345,
      calls: 1e9,
      rejected: Object.fromEntries(rejectReasons.map((r) => [r, 1e6])),
      refusing: { reason: 'wrong-epoch', count: 1e9 },
      configDigest: 'c'.repeat(64),
      epoch: 'e'.repeat(64),
    })
    const event = heartbeatEvent('a'.repeat(200), hb, `host-${'r'.repeat(60)}`)
    expect(Buffer.byteLength(event)).toBeLessThanOrEqual(HEARTBEAT_EVENT_BYTES)
    expect(JSON.parse(event).h).toEqual(hb)
  })

  it('past the cap (a field grown beyond the schema), keeps the figures only', () => {
    const hb = { ackedSeq: 1, entries: 2, capacity: 3, configDigest: 'x'.repeat(20_000) }
    const event = heartbeatEvent('app-1', hb, 'replica-1')
    expect(Buffer.byteLength(event)).toBeLessThanOrEqual(HEARTBEAT_EVENT_BYTES)
    expect(JSON.parse(event).h).toEqual({ ackedSeq: 1, entries: 2, capacity: 3 })
  })
})

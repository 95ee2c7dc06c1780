/**
 * What a leader keeps of its clients for the next one: their records follow
 * heartbeats without a write per heartbeat and never below what was heard;
 * and the fleet tracker rebuilt from the log and the records counts acks as
 * the old one did.
 */
import { describe, expect, it } from 'vitest'
import { FleetTracker } from '../../src/coordinator/fleet.js'
import {
  ackedSeqs,
  type ClientRecord,
  ClientRecords,
  entriesBound,
} from '../../src/coordinator/replica/client-records.js'
import { harness } from '../helpers/engine.js'

const recorder = (stored: Map<string, ClientRecord> = new Map()) => {
  const h = harness()
  const writes: [string, ClientRecord][] = []
  const records = new ClientRecords(h.engine, stored, (id, r) => writes.push([id, r]))
  return { h, writes, records }
}

describe('client records', () => {
  it('bounds entries from above by at most an eighth, exactly below 16', () => {
    const off: number[] = []
    for (let n = 0; n <= 100_000; n++) {
      const b = entriesBound(n)
      if (b < n || b > (n < 16 ? n : n * 1.125)) off.push(n)
    }
    expect(off).toEqual([])
  })

  it('follows a filling cache once per eighth of growth, never below what was heard', () => {
    const { h, writes, records } = recorder()
    records.joined('a', 0)
    // Written for its first-seen seq; a count of 0 at connect is not a size: none kept.
    expect(writes).toEqual([['a', { f: 0 }]])
    let beats = 0
    for (let n = 0; n <= 10_000; n += 10, beats++) {
      records.heard('a', { entries: n, capacity: 20_000 })
      expect(writes.at(-1)![1].n).toBeGreaterThanOrEqual(n)
      expect(h.engine.client('a')!.entries).toBe(n)
    }
    expect(beats).toBe(1001)
    expect(writes.length).toBeLessThan(100)
    // The same again, or a little less: nothing to write.
    const count = writes.length
    records.heard('a', { entries: 10_000, capacity: 20_000 })
    records.heard('a', { entries: 6_000, capacity: 20_000 })
    expect(writes.length).toBe(count)
    // Under half of the bound: written, so a new leader does not keep it dear for long.
    records.heard('a', { entries: 4_000, capacity: 20_000 })
    expect(writes.at(-1)).toEqual(['a', { f: 0, n: entriesBound(4_000), k: 20_000 }])
  })

  it('lets a count at connect raise the price a new leader uses, never lower it', () => {
    const { writes, records } = recorder()
    // Over defaultEntries (1000): kept; under it, the default is the higher guess.
    records.joined('warm', 5_000)
    records.joined('cold', 10)
    expect(writes).toEqual([
      ['warm', { f: 0, n: entriesBound(5_000) }],
      ['cold', { f: 0 }],
    ])
    records.heard('warm', { entries: 100 })
    records.joined('warm', 50)
    expect(writes.at(-1)).toEqual(['warm', { f: 0, n: entriesBound(100) }])
  })

  it('gives the engine the capacities the records hold', () => {
    const stored = new Map<string, ClientRecord>([['a', { f: 0, n: 40, k: 50 }]])
    const { h, writes } = recorder(stored)
    expect([...h.engine.clients()]).toEqual([
      { id: 'a', entries: 40, capacity: 50, live: false, firstSeq: 0 },
    ])
    expect(writes).toEqual([])
  })

  it('keeps acks as they advance', () => {
    const stored = new Map<string, ClientRecord>([['a', { f: 0, n: 40, k: 50, a: 7 }]])
    const { writes, records } = recorder(stored)
    records.heard('a', { ackedSeq: 7 })
    records.heard('a', { ackedSeq: 5 })
    expect(writes).toEqual([])
    records.heard('a', { ackedSeq: 9 })
    expect(writes).toEqual([['a', { f: 0, n: 40, k: 50, a: 9 }]])
    expect([...ackedSeqs(new Map(writes))]).toEqual([['a', 9]])
    // A client the engine has never heard of has no first-seen seq to keep.
    records.heard('ghost', { ackedSeq: 3 })
    expect(writes).toHaveLength(1)
  })
})

describe('fleet tracker rebuilt from the log', () => {
  it('counts acks as the tracker that saw the deliveries would', () => {
    const live = new FleetTracker()
    const rebuilt = new FleetTracker()
    const log = [
      { seq: 10, rolloutId: 'r', wave: 0, clientIds: ['a', 'b'] },
      { seq: 20, rolloutId: 'r', wave: 1, clientIds: ['c'] },
      { seq: 30, rolloutId: 'r', wave: 1, clientIds: ['d'] },
    ]
    for (const d of log) live.delivered(d.clientIds, d.seq, d.rolloutId, d.wave)
    live.heartbeat('a', { ackedSeq: 10 }, 0)
    live.heartbeat('c', { ackedSeq: 25 }, 0)
    rebuilt.delivered(['x'], 5, 'stale', 0) // a previous term's bookkeeping: dropped
    rebuilt.restore(log, [
      ['a', 10],
      ['c', 25],
    ])
    expect(rebuilt.acked('r')).toEqual(live.acked('r'))
    expect(rebuilt.acked('stale')).toEqual([])
    // Later heartbeats go on counting, each delivery once.
    for (const t of [live, rebuilt]) {
      t.heartbeat('a', { ackedSeq: 30 }, 1)
      t.heartbeat('b', { ackedSeq: 30 }, 1)
      t.ack('d', 30)
      t.ack('d', 30)
    }
    expect(rebuilt.acked('r')).toEqual([2, 2])
    expect(live.acked('r')).toEqual([2, 2])
  })
})

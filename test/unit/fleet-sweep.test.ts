/**
 * Clients come and go under new ids (a deploy, an autoscaler): what the
 * coordinator keeps of each (health, deliveries awaiting an ack) is
 * forgotten once it is neither connected nor heard from, so it does not
 * grow with every id the fleet ever had.
 */
import { describe, expect, it } from 'vitest'
import { FleetTracker, FORGET_AFTER_MS } from '../../src/coordinator/fleet.js'

describe('the fleet tracker', () => {
  it('forgets the clients its sweep does not keep, and only those', () => {
    const f = new FleetTracker()
    for (let i = 0; i < 1_000; i++) {
      f.heartbeat(`old-${i}`, { calls: 1, errorRate: 0 }, 0)
      f.delivered([`old-${i}`], 1, 'chg-1', 0)
    }
    f.delivered(['never-heard'], 1, 'chg-1', 0)
    f.heartbeat('fresh', { calls: 1 }, FORGET_AFTER_MS)
    f.heartbeat('connected', { calls: 1 }, 0)
    const now = FORGET_AFTER_MS + 1
    const gone = f.sweep(
      (id, at) => id === 'connected' || (at !== undefined && now - at < FORGET_AFTER_MS),
    )
    expect(gone).toBe(1_001)
    expect([...f.reports()].map(([id]) => id).sort()).toEqual(['connected', 'fresh'])
    expect(f.health('old-1')).toBeUndefined()
    // Acks of the forgotten are not pending any more: an ack now counts nothing.
    f.ack('old-1', 1)
    expect(f.acked('chg-1')).toEqual([])
  })
})

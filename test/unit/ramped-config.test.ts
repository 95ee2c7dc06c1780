/**
 * Config ramps as a client runs them (issue 14, item 5): get() gives the
 * value the ramp is at on the client's monotonic clock; the same config sent
 * again (a reconnect) does not restart a ramp; a new ramp starts where the
 * client is, so a ramp back retraces the way at the same pace; a ramp that
 * cannot run lands on its target instead of leaving the key without a value.
 */
import { describe, expect, it } from 'vitest'
import { rampOf } from '../../src/invalidation/ramp.js'
import { RampedConfig } from '../../src/sdk/ramped-config.js'

const MIN = 60_000

describe('RampedConfig', () => {
  it('moves a value along its ramp as the monotonic clock goes', () => {
    let now = 0
    const c = new RampedConfig(() => now)
    c.set({ rate: 200, name: 'x' })
    c.set({ rate: { ramp: { to: 400, stepPerMinute: 50 } }, name: 'x' })
    expect(c.get('rate')).toBe(200)
    now = 2 * MIN
    expect(c.get('rate')).toBe(300)
    expect(c.all()).toEqual({ rate: 300, name: 'x' })
    expect(c.ramping()).toEqual(['rate'])
    now = 10 * MIN
    expect(c.get('rate')).toBe(400)
    expect(c.ramping()).toEqual([])
  })

  it('does not restart a ramp when the same config comes again', () => {
    let now = 0
    const c = new RampedConfig(() => now)
    c.set({ rate: 100 })
    const ramped = { rate: { ramp: { to: 200, perMinute: 0.1 } } }
    c.set(ramped)
    now = MIN
    const at = c.get('rate') as number
    expect(at).toBeCloseTo(110, 6)
    c.set(structuredClone(ramped))
    expect(c.get('rate')).toBeCloseTo(at, 6)
  })

  it('starts a new ramp where the client is: a ramp back retraces at the same pace', () => {
    let now = 0
    const c = new RampedConfig(() => now)
    c.set({ rate: 100 })
    c.set({ rate: { ramp: { to: 500, stepPerMinute: 100 } } })
    now = 1.5 * MIN
    expect(c.get('rate')).toBe(250)
    c.set({ rate: { ramp: { to: 100, stepPerMinute: 100 } } })
    now = 2.5 * MIN
    expect(c.get('rate')).toBe(150)
    now = 10 * MIN
    expect(c.get('rate')).toBe(100)
  })

  it('lands a ramp that cannot run on its target, and reads other values as sent', () => {
    const c = new RampedConfig(() => 0)
    c.set({ fresh: { ramp: { to: 5, perMinute: 0.1 } }, text: { ramp: 'no' } })
    expect(c.get('fresh')).toBe(5)
    expect(c.get('text')).toEqual({ ramp: 'no' })
    expect(rampOf({ ramp: { to: 1 }, extra: 1 })).toBeUndefined()
    expect(rampOf({ ramp: { to: '1' } })).toBeUndefined()
  })

  it('forgets keys that are no longer set', () => {
    const c = new RampedConfig(() => 0)
    c.set({ rate: 1 })
    c.set({ rate: { ramp: { to: 2, stepPerMinute: 1 } } })
    c.set({})
    expect(c.get('rate')).toBeUndefined()
    expect(c.all()).toEqual({})
  })

  it('holds the ramps the coordinator names where they are, and goes on from there', () => {
    let now = 0
    const c = new RampedConfig(() => now)
    c.set({ rate: 200, other: 10 })
    c.set({
      rate: { ramp: { to: 400, stepPerMinute: 50 } },
      other: { ramp: { to: 20, stepPerMinute: 1 } },
    })
    now = 1 * MIN
    c.hold(new Set(['rate']))
    now = 5 * MIN
    expect(c.get('rate')).toBe(250)
    expect(c.get('other')).toBe(15)
    // Released: on from 250 at the same pace, not a jump to where it would have been.
    c.hold(new Set())
    now = 6 * MIN
    expect(c.get('rate')).toBe(300)
    // A ramp back while held starts where the client stands.
    c.hold(new Set(['rate']))
    c.set({ rate: { ramp: { to: 200, stepPerMinute: 50 } }, other: 10 })
    now = 7 * MIN
    expect(c.get('rate')).toBe(250)
  })
})

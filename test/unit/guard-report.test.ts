/**
 * What a client reports of its refusals per heartbeat is bounded (the
 * coordinator refuses a heartbeat with more): a larger count goes out over
 * several heartbeats, none lost.
 */
import { describe, expect, it } from 'vitest'
import { MAX_REJECTED } from '../../src/protocol/messages.js'
import { Guard } from '../../src/sdk/guard.js'
import { devSigningKeys } from '../../src/sdk/index.js'

describe('Guard.takeUnreported', () => {
  it('reports at most MAX_REJECTED per reason, and the rest in the next', () => {
    const g = new Guard(devSigningKeys, undefined)
    g.giveBack({ unsigned: 2_500_000, malformed: 3 })
    expect(g.takeUnreported()).toEqual({ unsigned: MAX_REJECTED, malformed: 3 })
    expect(g.takeUnreported()).toEqual({ unsigned: MAX_REJECTED })
    expect(g.takeUnreported()).toEqual({ unsigned: 500_000 })
    expect(g.takeUnreported()).toEqual({})
  })
})

/** The SDK's origin figures stay within what a heartbeat may carry: one hung call never voids a heartbeat. */
import { describe, expect, it } from 'vitest'
import { heartbeatSchema } from '../../src/protocol/messages.js'
import { OriginStats } from '../../src/warmup/origin-stats.js'

describe('origin stats', () => {
  it('clamps a call that took over an hour, and the figures pass the heartbeat schema', () => {
    const s = new OriginStats()
    s.observe(12, true)
    s.observe(5 * 3_600_000, false)
    s.observe(Number.POSITIVE_INFINITY, false)
    s.observe(40, true)
    const figures = s.take()
    expect(figures).toMatchObject({ latencyP99: 3_600_000, errorRate: 0.5, calls: 4 })
    expect(heartbeatSchema.safeParse(figures).success).toBe(true)
    expect(s.take()).toEqual({})
  })
})

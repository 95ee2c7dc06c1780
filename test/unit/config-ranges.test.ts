/**
 * Every number in the coordinator's config has a sane range, not only a
 * sign: before (issue 12, item 9) a rate of 5e-324/s, a Retry-After of
 * 1.9e300 s that it implied, 1e9 shards or a ping every 1e-300 ms were all
 * taken. Live fields are refused over HTTP in bad-requests.test.ts; these,
 * fixed at startup, when the coordinator is created.
 */
import { describe, expect, it } from 'vitest'
import type { ConfigInput } from '../../src/config/schema.js'
import { createCoordinator } from '../../src/coordinator/coordinator.js'

describe('config numbers in sane ranges', () => {
  it.each<[string, ConfigInput]>([
    ['shards', { shards: 1e9 }],
    ['stream.pingMs', { stream: { pingMs: 1e-300 } }],
    ['stream.drainMs', { stream: { drainMs: 1e300 } }],
    ['limits.bodyBytes', { limits: { bodyBytes: 2 ** 40 } }],
    ['log.maxEntries', { log: { maxEntries: 1e12 } }],
    ['replication.leaseMs', { replication: { leaseMs: 1e-3 } }],
    ['rewarm.staleAfterMs', { rewarm: { staleAfterMs: 1e300 } }],
    ['limits.headersTimeoutMs', { limits: { headersTimeoutMs: 3_600_000 } }],
    ['limits.connectionsPerAddress', { limits: { connectionsPerAddress: 0 } }],
    ['waves.bakeMs', { waves: { steps: [1], bakeMs: 1e300 } }],
    ['leases.ttlMs', { leases: { ttlMs: 1e12 } }],
    ['rewarm.baselineWindowMs', { rewarm: { baselineWindowMs: 1e300 } }],
  ])('refuses an absurd %s at startup, naming it', (field, config) => {
    expect(() => createCoordinator({ config, log: () => {}, processMetrics: false })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION', field }),
    )
  })

  it('takes every default, and the ends of each range', () => {
    const co = createCoordinator({
      config: {
        shards: 100_000,
        budgets: {
          invalidate: { ratePerSec: 0.001, burst: 1 },
          urgent: { ratePerSec: 1e9, burst: 1e9 },
        },
        waves: { steps: [1], bakeMs: 86_400_000 },
        stream: { pingMs: 100 },
      },
      log: () => {},
      processMetrics: false,
    })
    expect(co.config().shards).toBe(100_000)
    return co.close()
  })
})

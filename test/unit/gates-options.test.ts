/**
 * The `gates` config section (issue 14, item 7): with nothing configured the
 * coordinator gates on error rate and p99 latency; bad values are refused
 * with the field named; a change's own gate is its checks or `false`.
 */
import { describe, expect, it } from 'vitest'
import { changeGateSchema, gatesSchema } from '../../src/gates/options.js'
import { optionIssues } from '../../src/validate.js'

describe('gates config', () => {
  it('protects a user who configures nothing', () => {
    const gates = gatesSchema.parse({})
    expect(gates).toEqual({
      enabled: true,
      alpha: 0.01,
      minSamples: 20,
      maxBakeMs: 60_000,
      heartbeatMs: 1_000,
      maxPaced: 2_000,
      watchAfterMs: 300_000,
      baselineMs: 300_000,
      onFail: { config: 'rollback', invalidate: 'pause', rewarm: 'pause' },
      onInconclusive: 'pause',
      rollbackClass: 'config',
      checks: [
        { metric: 'errorRate', worse: 'higher', minEffect: 0.005, relative: false },
        { metric: 'latencyP99', worse: 'higher', minEffect: 0.2, relative: true },
      ],
    })
  })

  it('refuses values that cannot work, naming the field', () => {
    const fields = (gates: unknown) => {
      const parsed = gatesSchema.safeParse(gates)
      return parsed.success ? [] : optionIssues(parsed.error, gates).map((i) => `gates.${i.field}`)
    }
    expect(fields({ alpha: 0 })).toEqual(['gates.alpha'])
    expect(fields({ minSamples: 1 })).toEqual(['gates.minSamples'])
    expect(fields({ onFail: { config: 'explode' } })).toEqual(['gates.onFail.config'])
    expect(fields({ checks: [{ metric: 'a b', worse: 'higher', minEffect: 1 }] })).toEqual([
      'gates.checks[0].metric',
    ])
    expect(fields({ checks: [{ metric: 'orders', worse: 'up', minEffect: 1 }] })).toEqual([
      'gates.checks[0].worse',
    ])
  })

  it("takes a change's own gate: checks, or false", () => {
    expect(changeGateSchema.parse(false)).toBe(false)
    expect(
      changeGateSchema.parse({
        checks: [{ metric: 'orders', worse: 'lower', minEffect: 0.1, relative: true }],
      }),
    ).toEqual({ checks: [{ metric: 'orders', worse: 'lower', minEffect: 0.1, relative: true }] })
    expect(changeGateSchema.safeParse(true).success).toBe(false)
    expect(changeGateSchema.safeParse({ checks: [] }).success).toBe(false)
    expect(gatesSchema.safeParse({ checks: [] }).success).toBe(true)
  })
})

describe('gates by default', () => {
  it('are on with no gates section, on either store, watching error rate and p99 latency', async () => {
    const { validateConfig } = await import('../../src/config/check.js')
    const redis = { store: { kind: 'redis', url: 'redis://127.0.0.1:6379' } }
    expect(validateConfig(redis, {}).issues).toEqual([])
    const g = gatesSchema.parse({})
    expect(g.enabled).toBe(true)
    expect(g.checks.map((c) => c.metric)).toEqual(['errorRate', 'latencyP99'])
  })
})

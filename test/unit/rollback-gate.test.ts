/**
 * Issue 14 in the engine: a change may carry its own gate (checks, or
 * false), kept on its rollout across restarts; a rollback goes out in the
 * original's waves under the budget but without bakes (R), to exactly the
 * clients that got the original, and under the urgent budget when asked.
 */
import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../../src/errors.js'
import { harness } from '../helpers/engine.js'

const check = { metric: 'orders', worse: 'lower', minEffect: 0.1, relative: true } as const

describe("a change's own gate", () => {
  it('is kept on its rollout, and through a restart', () => {
    const h = harness({}, { clients: 3 })
    const own = h.engine.submit({ kind: 'config', values: { a: 1 }, gate: { checks: [check] } })
    expect(own.rollout.gate).toEqual({ checks: [check] })
    const none = h.engine.submit({ kind: 'config', values: { b: 1 }, gate: false })
    expect(none.rollout.gate).toBe(false)
    const plain = h.engine.submit({ kind: 'config', values: { c: 1 } })
    expect(plain.rollout.gate).toBeUndefined()
    h.restart()
    expect(h.engine.get(own.rollout.id).gate).toEqual({ checks: [check] })
    expect(h.engine.get(none.rollout.id).gate).toBe(false)
  })

  it('is refused when malformed, and nothing is created', () => {
    const h = harness({}, { clients: 1 })
    expect(() => h.engine.submit({ kind: 'config', values: { a: 1 }, gate: true })).toThrow(
      InvalidOptionError,
    )
    expect(() =>
      h.engine.submit({ kind: 'config', values: { a: 1 }, gate: { checks: [{ metric: 'x' }] } }),
    ).toThrow(InvalidOptionError)
    expect(h.engine.list()).toEqual([])
  })
})

describe('a rollback', () => {
  it('goes in the same waves without bakes, under the budget, to those who got the change', () => {
    const h = harness(
      {
        budgets: { config: { ratePerSec: 100, burst: 10 } },
        waves: { steps: [0.1, 0.5, 1], bakeMs: 10_000 },
      },
      { clients: 400 },
    )
    const { rollout } = h.engine.submit({ kind: 'config', values: { flag: 'on' } })
    // Let the first two waves out, then roll back mid-bake.
    while (h.engine.get(rollout.id).wave < 1 || h.engine.get(rollout.id).phase !== 'baking')
      h.clock.advance(100)
    const got = new Set(h.received(rollout.id).keys())
    const at = h.clock.now()
    const back = h.engine.rollback(rollout.id, 'bad')
    expect(back.bakeMs).toBe(0)
    expect(back.waves.map((w) => w.fraction)).toEqual([0.1, 0.5, 1])
    h.clock.runAll()
    const done = h.engine.get(back.id)
    expect(done.state).toBe('completed')
    const reverted = h.received(back.id)
    expect(new Set(reverted.keys())).toEqual(got)
    expect([...reverted.values()].every((n) => n === 1)).toBe(true)
    // Paced: (clients − burst) ÷ rate, give or take a batch, and no bake in it.
    const took = done.endedAt! - at
    const ideal = ((got.size - 10) / 100) * 1000
    expect(took).toBeGreaterThanOrEqual(ideal - 20)
    expect(took).toBeLessThanOrEqual(ideal * 1.1 + 20)
    expect(done.budgetClass).toBe('config')
  })

  it('goes under the urgent budget when asked', () => {
    const h = harness({}, { clients: 20 })
    const { rollout } = h.engine.submit({ kind: 'config', values: { flag: 'on' } })
    h.clock.runAll()
    expect(h.engine.rollback(rollout.id, 'bad', { urgent: true }).budgetClass).toBe('urgent')
  })
})

describe('a ramped config change', () => {
  it('starts from the value the fleet has, and is refused when it cannot run', () => {
    const h = harness({}, { clients: 5 })
    h.engine.submit({ kind: 'config', values: { rate: 200 } })
    h.clock.runAll()
    const up = h.engine.submit({
      kind: 'config',
      values: { rate: { ramp: { to: 400, perMinute: 0.1 } } },
    })
    expect(up.rollout.change.values).toEqual({
      rate: { ramp: { from: 200, to: 400, perMinute: 0.1 } },
    })
    // Nothing to start from, a bad pace, a misspelt ramp: refused, each key named; nothing made.
    const before = h.engine.list().length
    expect(() =>
      h.engine.submit({ kind: 'config', values: { fresh: { ramp: { to: 5, perMinute: 0.1 } } } }),
    ).toThrow(/values\.fresh/)
    expect(() =>
      h.engine.submit({
        kind: 'config',
        values: { x: 1, rate: { ramp: { to: 5, perMinute: 2 } } },
      }),
    ).toThrow(/values\.rate.*\(0, 1\]/)
    expect(() =>
      h.engine.submit({ kind: 'config', values: { rate: { ramp: { to: 5, perMinte: 0.1 } } } }),
    ).toThrow(/values\.rate/)
    expect(h.engine.list()).toHaveLength(before)
  })

  it('rolls back by ramping back at the same pace', () => {
    const h = harness({}, { clients: 5 })
    h.engine.submit({ kind: 'config', values: { rate: 200, other: 'a' } })
    h.clock.runAll()
    const up = h.engine.submit({
      kind: 'config',
      values: { rate: { ramp: { to: 400, stepPerMinute: 50 } }, other: 'b' },
    })
    h.clock.runAll()
    const back = h.engine.rollback(up.rollout.id, 'bad')
    expect(back.change.values).toEqual({
      rate: { ramp: { from: 400, to: 200, stepPerMinute: 50 } },
      other: 'a',
    })
  })
})

describe('a change being rolled back', () => {
  const setup = () => {
    const h = harness(
      { budgets: { config: { ratePerSec: 10, burst: 1 } }, waves: { steps: [1], bakeMs: 0 } },
      { clients: 30 },
    )
    const { rollout } = h.engine.submit({ kind: 'config', values: { flag: 'on' } })
    h.clock.runAll()
    const back = h.engine.rollback(rollout.id, 'bad')
    return { h, id: rollout.id, back: back.id }
  }

  it('is rolling_back while its rollback runs, through a restart, then rolled_back', () => {
    const { h, id, back } = setup()
    expect(h.engine.get(id)).toMatchObject({ state: 'rolling_back', reason: 'bad' })
    h.clock.advance(1000)
    h.restart()
    expect(h.engine.get(id).state).toBe('rolling_back')
    h.clock.runAll()
    expect(h.engine.get(back).state).toBe('completed')
    expect(h.engine.get(id)).toMatchObject({ state: 'rolled_back', reason: 'bad' })
    expect(
      h.events
        .filter((e) => e.type === 'state' && e.rolloutId === id)
        .map((e) => e.type === 'state' && e.to),
    ).toEqual(['rolling', 'completed', 'rolling_back', 'rolled_back'])
  })

  it('fails, saying why, when its rollback is aborted: never silently rolled back', () => {
    const { h, id, back } = setup()
    h.clock.advance(500)
    h.engine.abort(back, 'stop it')
    expect(h.engine.get(id)).toMatchObject({
      state: 'failed',
      reason: `its rollback ${back} ended aborted`,
    })
  })
})

/**
 * Config values as state, not history (issue 12, item 4), on the real engine
 * under the virtual clock: a finished rollout keeps only the keys it still
 * governs, a rollback leaves later changes' keys alone, the stable config is
 * the newest completed value of each key whatever order changes complete in,
 * and the pushed config is bounded by configBytes.
 */
import { describe, expect, it } from 'vitest'
import { Engine } from '../../src/invalidation/engine.js'
import { harness } from '../helpers/engine.js'

const slow = { steps: [0.5, 1], bakeMs: 5000 }
const quick = { steps: [1], bakeMs: 0 }

describe('config values as state', () => {
  it('frees the values later changes took over from finished rollouts', () => {
    const h = harness({ waves: quick }, { clients: 4 })
    const superseded: string[] = []
    const a = h.engine.submit({ kind: 'config', values: { big: 'v1', small: 1 } }).rollout
    h.clock.runAll()
    const b = h.engine.submit({ kind: 'config', values: { big: 'v2' } }).rollout
    h.clock.runAll()
    for (const e of h.events) if (e.type === 'superseded') superseded.push(`${e.rolloutId}<${e.by}`)
    expect(superseded).toEqual([`${a.id}<${b.id}`])
    expect(h.engine.get(a.id)).toMatchObject({
      change: { values: { small: 1 } },
      superseded: ['big'],
    })
    expect(h.engine.get(b.id).change.values).toEqual({ big: 'v2' })
    expect(h.engine.stableConfigValues).toEqual({ big: 'v2', small: 1 })
    // A client that comes back gets each finished change's own keys only: in any order, v2.
    h.engine.leave('c0')
    h.engine.submit({ kind: 'config', values: { small: 2 } })
    h.clock.runAll()
    expect(h.engine.get(a.id).change.values).toEqual({})
    expect(h.engine.get(a.id).superseded).toEqual(['big', 'small'])
  })

  it('rolls back only the keys the change still governs', () => {
    const h = harness({ waves: quick }, { clients: 4 })
    h.engine.submit({ kind: 'config', values: { x: 0, y: 0 } })
    h.clock.runAll()
    const a = h.engine.submit({ kind: 'config', values: { x: 1, y: 1 } }).rollout
    h.clock.runAll()
    h.engine.submit({ kind: 'config', values: { y: 2 } })
    h.clock.runAll()
    const back = h.engine.rollback(a.id)
    // y belongs to the later change: before issue 12 the rollback set it back to 0.
    expect(back.change.values).toEqual({ x: 0 })
    h.clock.runAll()
    expect(h.engine.configValues).toEqual({ x: 0, y: 2 })
    expect(h.engine.stableConfigValues).toEqual({ x: 0, y: 2 })
  })

  it('keeps the newest completed value of each key, whatever order changes complete in', () => {
    const h = harness({ waves: quick }, { clients: 4 })
    // The older change rolls slowly; the newer one, on the same keys, completes first.
    const older = h.engine.submit({ kind: 'config', values: { k: 'old', u: 'old' }, waves: slow })
    h.clock.advance(100)
    h.engine.submit({ kind: 'config', values: { k: 'new' }, unset: ['u'] })
    h.clock.advance(100)
    expect(h.engine.stableConfigValues).toEqual({ k: 'new' })
    h.restart()
    h.clock.runAll()
    expect(h.engine.get(older.rollout.id).state).toBe('completed')
    // Before issue 12 the older change, completing last, set k back to 'old' and u to 'old'.
    expect(h.engine.stableConfigValues).toEqual({ k: 'new' })
    expect(h.engine.configValues).toEqual({ k: 'new' })
    expect(h.engine.get(older.rollout.id)).toMatchObject({
      change: { values: {} },
      superseded: ['k', 'u'],
    })
  })

  it('refuses a config change over configBytes, and lets one that shrinks it through', () => {
    const h = harness({ configBytes: 1000 }, { clients: 2 })
    h.engine.submit({ kind: 'config', values: { a: 'x'.repeat(600) } })
    expect(() => h.engine.submit({ kind: 'config', values: { b: 'y'.repeat(600) } })).toThrow(
      expect.objectContaining({ code: 'E_CONFIG_TOO_LARGE', limitBytes: 1000 }),
    )
    expect(Object.keys(h.engine.configValues)).toEqual(['a'])
    // Replacing a by b keeps it within the limit; so does unsetting.
    h.engine.submit({ kind: 'config', values: { b: 'y'.repeat(600) }, unset: ['a'] })
    expect(Object.keys(h.engine.configValues)).toEqual(['b'])
    h.engine.submit({ kind: 'config', unset: ['b'] })
    expect(h.engine.configValues).toEqual({})
  })

  it('trims a snapshot from before issue 12 on restore', () => {
    const h = harness({ waves: quick }, { clients: 2 })
    const a = h.engine.submit({ kind: 'config', values: { k: 1 } }).rollout
    h.clock.runAll()
    h.engine.submit({ kind: 'config', values: { k: 2 } })
    h.clock.runAll()
    // As an older version kept it: every value of every change, no seqs.
    const snap = JSON.parse(JSON.stringify(h.engine.snapshot()))
    const old = snap.rollouts.find((r: { change: { id: string } }) => r.change.id === a.id)
    old.change.values = { k: 1 }
    delete old.superseded
    delete snap.stableConfigSeqs
    h.engine.close()
    const engine = new Engine({ clock: h.clock, snapshot: snap })
    expect(engine.get(a.id)).toMatchObject({ change: { values: {} }, superseded: ['k'] })
    expect(engine.stableConfigValues).toEqual({ k: 2 })
    engine.close()
  })
})

/**
 * Model-based test of the rollout state machine (fc.commands): arbitrary
 * sequences of submits, pauses, resumes, aborts, failures, rollbacks, clock
 * steps, joins, leaves, gate flips and restarts against the real engine.
 * Legal moves land where the model says; illegal ones raise a coded error
 * and change nothing; paused and finished rollouts deliver nothing.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SlewError } from '../../src/errors.js'
import type { RolloutState } from '../../src/invalidation/states.js'
import { harness } from '../helpers/engine.js'
import { changeArb } from './arbitraries.js'
import { params } from './runs.js'

type Harness = ReturnType<typeof harness>
interface Model {
  rollouts: Map<string, { state: RolloutState; kind: string }>
  gate: { verdict: 'pass' | 'fail' }
}
interface Real {
  h: Harness
}

/** The transition table as DESIGN states it, written out independently of the engine's. */
type Action = 'pause' | 'resume' | 'abort' | 'fail' | 'rollback'
const allowed: Record<Action, Partial<Record<RolloutState, RolloutState>>> = {
  pause: { rolling: 'paused' },
  resume: { paused: 'rolling' },
  abort: { rolling: 'aborted', paused: 'aborted' },
  fail: { rolling: 'failed', paused: 'failed', rolling_back: 'failed' },
  rollback: { rolling: 'rolling_back', paused: 'rolling_back', completed: 'rolling_back' },
}

const CLIENTS = 12

const act = (h: Harness, action: Action, id: string) =>
  action === 'resume' ? h.engine.resume(id) : h.engine[action](id, 'model')

const deliveredTo = (h: Harness, ids: Set<string>) =>
  h.deliveries.filter((d) => ids.has(d.change.id)).length

/** Adopt what the engine did on its own (completions, gate verdicts) after checking it was allowed. */
const sync = (m: Model, r: Real, before: Map<string, RolloutState>) => {
  for (const v of r.h.engine.list()) {
    const prev = before.get(v.id)
    if (prev === undefined) {
      // Born during the step: only a gate-triggered rollback of a config change can do that.
      expect(v.change.rollbackOf).toBeDefined()
      expect(before.get(v.change.rollbackOf!)).toBe('rolling')
    } else if (prev !== v.state) {
      const rollback = v.change.kind === 'config' && m.gate.verdict === 'fail'
      if (prev === 'rolling_back') {
        // Its rollback ended: rolled back if that completed, failed if it did not.
        expect(['rolled_back', 'failed'], `${v.id}: ${prev} → ${v.state}`).toContain(v.state)
        m.rollouts.set(v.id, { state: v.state, kind: v.change.kind })
        continue
      }
      expect(prev).toBe('rolling')
      const ok =
        v.state === 'completed' ||
        (rollback && (v.state === 'rolling_back' || v.state === 'rolled_back')) ||
        (m.gate.verdict === 'fail' &&
          v.state === 'paused' &&
          v.reason?.startsWith('gate failed')) ||
        false
      expect(ok, `${v.id}: ${prev} → ${v.state}`).toBe(true)
    }
    m.rollouts.set(v.id, { state: v.state, kind: v.change.kind })
  }
}

const exactlyOnce = (r: Real) => {
  const seen = new Set<string>()
  for (const d of r.h.deliveries) {
    for (const c of d.clientIds) {
      const k = `${d.change.id}/${c}`
      expect(seen.has(k), `${k} delivered twice`).toBe(false)
      seen.add(k)
    }
  }
}

const snapshotOf = (m: Model) => new Map([...m.rollouts].map(([id, v]) => [id, v.state]))

class Submit implements fc.Command<Model, Real> {
  constructor(readonly change: Record<string, unknown>) {}
  check = () => true
  run(m: Model, r: Real) {
    const before = snapshotOf(m)
    const delivered = r.h.deliveries.length
    let res: ReturnType<Harness['engine']['submit']>
    try {
      res = r.h.engine.submit(this.change)
    } catch (error) {
      // Its idempotency key was taken by another change: refused, and nothing changed.
      expect((error as { code?: string }).code).toBe('E_IDEMPOTENCY_CONFLICT')
      expect(this.change.idempotencyKey).toBeDefined()
      expect(r.h.deliveries.length).toBe(delivered)
      expect(new Map(r.h.engine.list().map((v) => [v.id, v.state]))).toEqual(before)
      return
    }
    if (res.coalesced) expect(m.rollouts.has(res.rollout.id)).toBe(true)
    else {
      expect(m.rollouts.has(res.rollout.id)).toBe(false)
      expect(['rolling', 'completed']).toContain(res.rollout.state)
      before.set(res.rollout.id, 'rolling')
    }
    sync(m, r, before)
    exactlyOnce(r)
  }
  toString = () => `submit(${JSON.stringify(this.change)})`
}

class Control implements fc.Command<Model, Real> {
  constructor(
    readonly action: Action,
    readonly which: number,
  ) {}
  check = (m: Readonly<Model>) => m.rollouts.size > 0
  run(m: Model, r: Real) {
    const ids = [...m.rollouts.keys()]
    const id = ids[this.which % ids.length]!
    const { state, kind } = m.rollouts.get(id)!
    const target = allowed[this.action]![state]
    const needsConfig = this.action === 'rollback' && kind !== 'config'
    const viewBefore = r.h.engine.list()
    if (!target || needsConfig) {
      let error: unknown
      try {
        act(r.h, this.action, id)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(SlewError)
      expect((error as SlewError).code).toBe(
        needsConfig ? 'E_NOT_CONFIG_CHANGE' : 'E_ILLEGAL_TRANSITION',
      )
      expect(r.h.engine.list()).toEqual(viewBefore)
      return
    }
    const before = snapshotOf(m)
    const out = act(r.h, this.action, id)
    const now = r.h.engine.get(id).state
    // A rollback whose audience fits in one burst completes within the call: rolled back at once.
    if (this.action === 'rollback' && now === 'rolled_back')
      expect(r.h.engine.get(out.id).state).toBe('completed')
    else expect(now).toBe(target)
    before.set(id, now)
    if (this.action === 'rollback') {
      expect(out.change.rollbackOf).toBe(id)
      before.set(out.id, 'rolling')
    }
    sync(m, r, before)
    exactlyOnce(r)
  }
  toString = () => `${this.action}(#${this.which})`
}

class Advance implements fc.Command<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true
  run(m: Model, r: Real) {
    const quiet = new Set(
      [...m.rollouts]
        .filter(([, v]) => v.state !== 'rolling' && v.state !== 'completed')
        .map(([id]) => id),
    )
    const before = snapshotOf(m)
    const count = deliveredTo(r.h, quiet)
    r.h.clock.advance(this.ms)
    expect(deliveredTo(r.h, quiet), 'a paused or stopped rollout delivered').toBe(count)
    sync(m, r, before)
    exactlyOnce(r)
  }
  toString = () => `advance(${this.ms})`
}

class Fleet implements fc.Command<Model, Real> {
  constructor(
    readonly join: boolean,
    readonly client: number,
  ) {}
  check = () => true
  run(m: Model, r: Real) {
    const before = snapshotOf(m)
    const id = `c${this.client % CLIENTS}`
    if (this.join) r.h.engine.join(id, { entries: this.client % 7 })
    else r.h.engine.leave(id)
    sync(m, r, before)
  }
  toString = () => `${this.join ? 'join' : 'leave'}(c${this.client % CLIENTS})`
}

class Gate implements fc.Command<Model, Real> {
  constructor(readonly verdict: 'pass' | 'fail') {}
  check = () => true
  run(m: Model) {
    m.gate.verdict = this.verdict
  }
  toString = () => `gate(${this.verdict})`
}

class Restart implements fc.Command<Model, Real> {
  check = () => true
  run(_m: Model, r: Real) {
    const views = r.h.engine.list()
    r.h.restart()
    expect(r.h.engine.list()).toEqual(views)
  }
  toString = () => 'restart'
}

const commands = [
  changeArb.map((c) => new Submit(c as Record<string, unknown>)),
  fc
    .tuple(fc.constantFrom(...(Object.keys(allowed) as Action[])), fc.nat())
    .map(([a, w]) => new Control(a, w)),
  fc
    .oneof(fc.integer({ min: 0, max: 3000 }), fc.double({ min: 0, max: 3000, noNaN: true }))
    .map((ms) => new Advance(ms)),
  fc.tuple(fc.boolean(), fc.nat()).map(([j, c]) => new Fleet(j, c)),
  fc.constantFrom('pass' as const, 'fail' as const).map((v) => new Gate(v)),
  fc.constant(new Restart()),
]

describe('rollout state machine (model-based)', () => {
  it('every command sequence obeys the transition table', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 40 }), (cmds) => {
        const gate = { verdict: 'pass' as 'pass' | 'fail' }
        const h = harness(
          {
            budgets: {
              invalidate: { ratePerSec: 20, burst: 10 },
              config: { ratePerSec: 5, burst: 3 },
              rewarm: { ratePerSec: 10, burst: 5 },
              urgent: { ratePerSec: 50, burst: 20 },
            },
            waves: { steps: [0.25, 0.5, 1], bakeMs: 300 },
            shards: 8,
          },
          { clients: CLIENTS, entries: 3, gate: () => gate.verdict },
        )
        fc.modelRun(() => ({ model: { rollouts: new Map(), gate }, real: { h } }), cmds)
        h.engine.close()
      }),
      params(),
    )
  })
})

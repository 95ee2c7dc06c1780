/**
 * What the watcher watches each kind of change on: a config change by
 * cohorts on every check; an invalidation by the origin against its
 * baseline on every check; a rewarm against its baseline on errors only
 * (its control loop drives latency to its target on purpose), unless it
 * brings its own gate; nothing when disabled, for a rollback, or gate: false.
 */
import { describe, expect, it } from 'vitest'
import { gatesSchema } from '../../src/gates/options.js'
import { GateWatcher } from '../../src/gates/watcher.js'
import { harness } from '../helpers/engine.js'

const setup = (enabled = true) => {
  const settings = gatesSchema.parse({ enabled })
  const h = harness({ waves: { steps: [0.5, 1], bakeMs: 1000 } }, { clients: 10 })
  const w = new GateWatcher({
    settings: () => settings,
    actions: { pause: () => {}, rollback: () => {}, lastWaveClients: () => [] },
  })
  const look = (id: string) => {
    for (const e of h.events) w.onEvent(e, (x) => h.engine.get(x))
    h.events.length = 0
    w.tick(h.clock.now())
    return w.record(id)
  }
  return { h, look }
}

const metrics = (r: ReturnType<ReturnType<typeof setup>['look']>) => r?.checks.map((c) => c.metric)

describe('the gate watcher', () => {
  it('watches each kind on what fits it', () => {
    const { h, look } = setup()
    const cfg = h.engine.submit({ kind: 'config', values: { a: 1 } }).rollout.id
    expect(look(cfg)?.mode).toBe('cohort')
    expect(metrics(look(cfg))).toEqual(['errorRate', 'latencyP99'])
    const inv = h.engine.submit({ kind: 'invalidate', target: { keys: ['k'] } }).rollout.id
    expect(look(inv)?.mode).toBe('baseline')
    expect(metrics(look(inv))).toEqual(['errorRate', 'latencyP99'])
    const rw = h.engine.submit({ kind: 'rewarm', target: { keys: ['r'] } }).rollout.id
    expect(metrics(look(rw))).toEqual(['errorRate'])
    const own = h.engine.submit({
      kind: 'rewarm',
      target: { keys: ['s'] },
      gate: { checks: [{ metric: 'latencyP99', worse: 'higher', minEffect: 1, relative: true }] },
    }).rollout.id
    expect(metrics(look(own))).toEqual(['latencyP99'])
  })

  it('watches nothing when disabled, for gate: false, or for a rollback', () => {
    const off = setup(false)
    const a = off.h.engine.submit({ kind: 'config', values: { a: 1 } }).rollout.id
    expect(off.look(a)).toBeUndefined()
    const { h, look } = setup()
    const none = h.engine.submit({ kind: 'config', values: { b: 1 }, gate: false }).rollout.id
    expect(look(none)).toBeUndefined()
    const c = h.engine.submit({ kind: 'config', values: { c: 1 } }).rollout.id
    h.clock.runAll()
    const back = h.engine.rollback(c, 'test').id
    expect(look(back)).toBeUndefined()
  })
})

describe('gate records', () => {
  it('keep at most 1,000 of ended gates, however long an older one stays watched', () => {
    const { h, look } = setup()
    // Held: rolling with its gate open for the whole test.
    const held = h.engine.submit({
      kind: 'config',
      values: { held: 1 },
      waves: { steps: [0.5, 1], bakeMs: 86_400_000 },
    }).rollout.id
    look(held)
    const ended: string[] = []
    for (let i = 0; i < 1_100; i++) {
      const id = h.engine.submit({
        kind: 'config',
        values: { [`k${i}`]: i },
        gate: { checks: [{ metric: 'x', worse: 'higher', minEffect: 1 }] },
      }).rollout.id
      h.engine.abort(id, 'test')
      look(id)
      ended.push(id)
    }
    expect(look(held)).toBeDefined()
    expect(look(ended[0]!)).toBeUndefined()
    expect(look(ended.at(-1)!)).toBeDefined()
  })
})

describe('a gate kept in the store and resumed (a new leader)', () => {
  it('goes on with the same statistic: the same records, looks and verdicts as if never moved', () => {
    const settings = gatesSchema.parse({ minSamples: 5, watchAfterMs: 0 })
    const h = harness({ waves: { steps: [0.5, 1], bakeMs: 60_000 } }, { clients: 20 })
    const ids = [...h.engine.clients()].map((c) => c.id)
    const make = () =>
      new GateWatcher({
        settings: () => settings,
        actions: {
          pause: () => {},
          rollback: () => {},
          lastWaveClients: (id) => {
            const r = h.engine.get(id)
            const reached = new Set(
              h.deliveries.filter((d) => d.change.id === id).flatMap((d) => d.clientIds),
            )
            return r ? ids.filter((c) => !reached.has(c)) : []
          },
        },
      })
    const a = make()
    const id = h.engine.submit({ kind: 'config', values: { f: 1 } }).rollout.id
    h.clock.advance(10)
    for (const e of h.events) a.onEvent(e, (x) => h.engine.get(x))
    const treated = h.deliveries.flatMap((d) => d.clientIds)
    for (const c of treated) a.delivered(id, c)
    expect(treated.length).toBeGreaterThan(0)
    // Every client fails about 1 % of its calls, give or take: three rounds of heartbeats.
    const round = (w: GateWatcher[], at: number) => {
      ids.forEach((c, i) => {
        const errorRate = 0.01 + ((i * 7 + at / 1000) % 5) / 1000
        for (const x of w) x.heartbeat(c, { calls: 50, errorRate, latencyP99: 10 + (i % 3) }, at)
      })
    }
    round([a], 1000)
    round([a], 2000)
    a.tick(2000)
    const kept = JSON.parse(JSON.stringify(a.stateOf(id))) as Parameters<GateWatcher['resume']>[1]
    const b = make()
    b.resume(h.engine.get(id), kept, treated, 2000)
    expect(b.record(id)).toEqual(a.record(id))
    expect(b.watchedClients()).toEqual(a.watchedClients())
    round([a, b], 3000)
    a.tick(3000)
    b.tick(3000)
    expect(b.record(id)).toEqual(a.record(id))
    expect(b.record(id)?.checks[0]?.treated.samples).toBe(3 * treated.length)
    expect(b.record(id)?.checks[0]?.control.samples).toBeGreaterThan(0)
    // An ended gate comes back as its record only.
    h.events.length = 0
    h.engine.abort(id, 'test')
    for (const e of h.events) b.onEvent(e, (x) => h.engine.get(x))
    const ended = JSON.parse(JSON.stringify(b.stateOf(id))) as typeof kept
    expect(ended?.done).toBe(true)
    const c = make()
    c.resume(h.engine.get(id), ended, treated, 4000)
    expect(c.record(id)).toEqual(b.record(id))
    expect(c.record(id)?.checks[0]?.treated.samples).toBe(3 * treated.length)
    expect(c.isWatched(id)).toBe(false)
  })
})

describe('a ramped config change', () => {
  it('is watched until its ramp ends on the last client reached, with no watch after set', () => {
    const settings = gatesSchema.parse({ watchAfterMs: 0 })
    const h = harness({ waves: { steps: [0.5, 1], bakeMs: 1000 } }, { clients: 10 })
    const w = new GateWatcher({
      settings: () => settings,
      actions: { pause: () => {}, rollback: () => {}, lastWaveClients: () => [] },
    })
    const feed = () => {
      for (const e of h.events) w.onEvent(e, (x) => h.engine.get(x))
      h.events.length = 0
    }
    // 100 → 200 at 50 a minute: two minutes on each client after it applied it.
    const id = h.engine.submit({
      kind: 'config',
      values: { rate: { ramp: { from: 100, to: 200, stepPerMinute: 50 } } },
    }).rollout.id
    const plain = h.engine.submit({ kind: 'config', values: { other: 1 } }).rollout.id
    h.clock.runAll()
    feed()
    const r = h.engine.get(id)
    expect(r.state).toBe('completed')
    expect(w.isWatched(plain)).toBe(false)
    expect(w.record(id)).toMatchObject({ mode: 'watch-after' })
    const until = w.record(id)!.until!
    expect(until - (r.endedAt ?? 0)).toBeCloseTo(120_000, -1)
    w.tick(until - 1)
    expect(w.isWatched(id)).toBe(true)
    w.tick(until + 1)
    expect(w.isWatched(id)).toBe(false)
  })
})

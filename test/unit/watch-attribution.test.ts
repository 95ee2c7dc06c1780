/**
 * Attribution (issue 15, item 4): the rollouts in flight when a business
 * metric fell, ranked by how much their treated clients differ from their
 * control since it began, and by when their waves started. A culprit's
 * treated clients fall and it ranks first; a fleet-wide drop names no
 * rollout; a series with no per-client figures is ranked by timing and
 * says so.
 */
import { describe, expect, it } from 'vitest'
import { shardOf } from '../../src/invalidation/shard.js'
import { mulberry32, poissonCounts } from '../../src/sim/rng.js'
import { Attribution, type RolloutFacts } from '../../src/watch/attribution.js'

const SHARDS = 100
const MIN = 60_000

/** A rollout of waves at 1 %, 10 %, 50 %, 100 %, started at the times given. */
const rollout = (id: string, starts: readonly (number | undefined)[]): RolloutFacts => {
  const cuts = [0, 1, 10, 50, 100]
  return {
    id,
    kind: 'config',
    state: 'rolling',
    createdAt: starts[0] ?? 0,
    shards: SHARDS,
    waves: starts.map((startedAt, index) => ({
      index,
      lo: cuts[index]!,
      hi: cuts[index + 1]!,
      startedAt,
    })),
  }
}

/** Is `client` treated by `r` at `at` (its wave started)? */
const treatedBy = (r: RolloutFacts, client: string, at: number): boolean => {
  const s = shardOf(client, r.id, r.shards)
  const w = r.waves.find((x) => s >= x.lo && s < x.hi)
  return w?.startedAt !== undefined && w.startedAt <= at
}

/**
 * 1,000 clients heartbeating every 10 s with orders at 0.1/s each (unequal
 * traffic), from `from` to `until`; `factor` says how much of its usual
 * rate a client keeps at a time.
 */
const feed = (
  a: Attribution,
  from: number,
  until: number,
  factor: (client: string, at: number) => number,
  seed = 1,
) => {
  const rnd = mulberry32(seed)
  const count = poissonCounts(seed + 1)
  const clients = Array.from({ length: 1000 }, (_, i) => ({
    id: `app-${i}`,
    weight: Math.exp(rnd() - 0.5),
    phase: Math.floor(rnd() * 10) * 1000,
  }))
  for (let t = from; t < until; t += 1000)
    for (const c of clients) {
      if ((t - c.phase) % 10_000 !== 0) continue
      const n = count(0.1 * c.weight * 10 * factor(c.id, t))
      a.sample(c.id, n > 0 ? { orders: n } : {}, 10_000, t)
    }
}

describe('attribution', () => {
  it("ranks first the rollout whose treated clients' orders fell, with its interval", () => {
    const t0 = 10 * MIN
    const culprit = rollout('chg-culprit', [t0, t0 + 2 * MIN, t0 + 4 * MIN, undefined])
    const others = [
      rollout('chg-other-a', [t0 - 5 * MIN, t0 - 3 * MIN, t0 + 3 * MIN + 30_000, undefined]),
      rollout('chg-other-b', [t0 + MIN, t0 + 3 * MIN, undefined, undefined]),
    ]
    const a = new Attribution({ metrics: [{ metric: 'orders', worse: 'lower' }] })
    const all = [culprit, ...others]
    a.rollouts(all, 0)
    // The change breaks checkout for a third of its treated clients' orders.
    feed(a, 0, t0 + 6 * MIN, (c, t) => (treatedBy(culprit, c, t) ? 2 / 3 : 1))
    const since = t0 + 4 * MIN + 5_000
    const r = a.rank({ metric: 'orders', since }, t0 + 6 * MIN)
    expect(r.suspects.map((s) => s.rolloutId)).toContain('chg-other-a')
    const top = r.suspects[0]!
    expect(top.rolloutId).toBe('chg-culprit')
    expect(top.wave).toBe(3)
    expect(top.effect!.z).toBeGreaterThan(3)
    expect(top.effect!.low).toBeLessThan(-1 / 3)
    expect(top.effect!.high).toBeGreaterThan(-1 / 3)
    expect(top.line).toMatch(/^chg-culprit wave 3: orders −\d+\.\d % treated vs control \(95 %/)
    expect(r.summary).toMatch(/^likely chg-culprit \(wave 3\)/)
    for (const s of r.suspects.slice(1)) expect(Math.abs(s.effect!.z)).toBeLessThan(3)
  })

  it('names no rollout when the whole fleet fell alike', () => {
    const t0 = 10 * MIN
    const a = new Attribution({ metrics: [{ metric: 'orders', worse: 'lower' }] })
    const all = [
      rollout('chg-a', [t0, t0 + 2 * MIN, undefined, undefined]),
      rollout('chg-b', [t0 + MIN, t0 + 3 * MIN, undefined, undefined]),
    ]
    a.rollouts(all, 0)
    const since = t0 + 3 * MIN + 20_000
    feed(a, 0, t0 + 6 * MIN, (_, t) => (t >= since ? 0.7 : 1), 7)
    const r = a.rank({ metric: 'orders', since }, t0 + 6 * MIN)
    expect(r.suspects).toHaveLength(2)
    for (const s of r.suspects) expect(Math.abs(s.effect!.z)).toBeLessThan(3)
    expect(r.summary).toMatch(/^no rollout's treated clients differ from its control/)
  })

  it('blames almost no rollout for a fleet-wide drop among clients of unequal traffic', () => {
    // Each rollout's cohorts draw busy and quiet clients by chance; compared on raw rates, with
    // every heartbeat a sample, that chance reads as an effect (the simulator saw 6-17 % of
    // fleet-wide drops pinned on a rollout). Against each client's usual rate it does not.
    const t0 = 20 * MIN
    const a = new Attribution({ metrics: [{ metric: 'orders', worse: 'lower' }] })
    const all = Array.from({ length: 20 }, (_, i) =>
      rollout(`chg-${i}`, [t0 - 3 * MIN, t0 - 2 * MIN, t0 - MIN, undefined]),
    )
    a.rollouts(all, 0)
    const since = t0
    const rnd = mulberry32(11)
    const count = poissonCounts(12)
    // Lognormal traffic, sigma 1: the busiest tenth of the clients take about 40 % of the orders.
    const clients = Array.from({ length: 600 }, (_, i) => ({
      id: `app-${i}`,
      rate:
        0.3 * Math.exp(1.5 * Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd())),
      phase: i % 10,
    }))
    for (let s = 0; s < (t0 + 3 * MIN) / 1000; s++)
      for (const c of clients) {
        if (s % 10 !== c.phase) continue
        const at = s * 1000
        const n = count(c.rate * 10 * (at >= since ? 0.7 : 1))
        a.sample(c.id, n > 0 ? { orders: n } : {}, 10_000, at)
      }
    const r = a.rank({ metric: 'orders', since }, t0 + 3 * MIN)
    expect(r.suspects).toHaveLength(20)
    // On raw rates 8 of these 20 differ by 3 standard errors or more; against each client's usual
    // rate at most one (its usual rate is itself an estimate: a little noise is left).
    const blamed = r.suspects.filter((s) => s.effect && Math.abs(s.effect.z) >= 3)
    expect(blamed.length, blamed.map((s) => s.line).join('\n')).toBeLessThanOrEqual(1)
  })

  it('ranks by timing alone, and says so, with no per-client figures', () => {
    const t0 = 10 * MIN
    const a = new Attribution({ metrics: [{ metric: 'orders', worse: 'lower' }] })
    a.rollouts(
      [
        rollout('chg-early', [t0 - 20 * MIN, t0 - 10 * MIN, undefined, undefined]),
        rollout('chg-late', [t0 - 2 * MIN, t0 - 20_000, undefined, undefined]),
        // Started after the deviation began: it cannot have caused it.
        rollout('chg-after', [t0 + 2 * MIN, undefined, undefined, undefined]),
      ],
      t0,
    )
    const r = a.rank({ metric: 'orders', since: t0 }, t0 + MIN)
    expect(r.suspects.map((s) => s.rolloutId)).toEqual(['chg-late', 'chg-early'])
    expect(r.suspects[0]!.leadMs).toBe(20_000)
    expect(r.suspects[0]!.line).toBe(
      'chg-late wave 2: no treated and control figures for orders; wave 2 began 20 s before the deviation',
    )
    expect(r.summary).toBe('no per-client figures for orders: ranked by timing only')
  })

  it('leaves out rollbacks and rollouts that ended long before', () => {
    const t0 = 60 * MIN
    const a = new Attribution({ metrics: [{ metric: 'orders', worse: 'lower' }] })
    a.rollouts(
      [
        { ...rollout('chg-undo', [t0 - MIN]), rollbackOf: 'chg-x' },
        { ...rollout('chg-old', [t0 - 50 * MIN]), state: 'completed', endedAt: t0 - 45 * MIN },
      ],
      t0,
    )
    const r = a.rank({ metric: 'orders', since: t0 }, t0)
    expect(r.suspects).toEqual([])
    expect(r.summary).toMatch(/^no rollout was in flight/)
  })
})

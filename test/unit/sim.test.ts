import { describe, expect, it } from 'vitest'
import { generateFleet } from '../../src/sim/fleet.js'
import { FleetSim } from '../../src/sim/fleet-sim.js'
import { runNaive } from '../../src/sim/naive.js'
import { simulate } from '../../src/sim/scenario.js'
import { plotSvg } from '../../src/sim/svg.js'

describe('simulate (the engine scenario)', () => {
  // Deterministic virtual-clock figures: the same seed gives the same numbers.
  const r = simulate({ clients: 10_000, entries: 100, budget: 1000 })

  it('keeps slew within the bound, near the ideal, and far below naive', () => {
    expect(r.boundPerSec).toBe(1000 + 1000 * 1.25)
    expect(r.slew.amplification).toBeLessThanOrEqual(1)
    expect(r.slew.efficiency).toBeGreaterThanOrEqual(0.9)
    expect(r.naive.peakPerSec).toBeGreaterThanOrEqual(10 * r.slew.peakPerSec)
    // Every entry of every client is refetched exactly once, under a token.
    expect(r.slew.totalFetches).toBe(r.fleet.totalEntries)
    expect(r.slew.deliveredCost).toBe(r.fleet.totalEntries)
    expect(r.slew.waves.reduce((n, w) => n + w.clients, 0)).toBe(10_000)
  })

  it('is deterministic for a seed and changes with it', () => {
    const again = simulate({ clients: 10_000, entries: 100, budget: 1000 })
    expect(again.slew.completionMs).toBe(r.slew.completionMs)
    expect(again.naive.peakPerSec).toBe(r.naive.peakPerSec)
    const other = simulate({ clients: 10_000, entries: 100, budget: 1000, seed: 2 })
    expect(other.fleet.totalEntries).not.toBe(r.fleet.totalEntries)
  })

  it('refuses bad options before running anything', () => {
    expect(() => simulate({ budget: 0 })).toThrow(/`budget` to be a finite number > 0, got `0`/)
    expect(() => simulate({ steps: [0.5, 0.2, 1] })).toThrow(/`steps` to be strictly increasing/)
    expect(() => simulate({ steps: [0.1, 0.5] })).toThrow(/`steps` to be an array that ends at 1/)
    expect(() => simulate({ clients: Number.NaN })).toThrow(/`clients`/)
    expect(() => simulate({ spread: 1 })).toThrow(/`spread` to be a number in \[0, 1\)/)
    expect(() => simulate({ bogus: 1 } as never)).toThrow(/`bogus`/)
  })
})

describe('naive model', () => {
  it('refetches each accessed entry once, hottest first', () => {
    const fleet = generateFleet({ clients: 200, entries: 50, rps: 50, spread: 0, seed: 3 })
    const n = runNaive(fleet, { skew: 1, horizonMs: 3_600_000, seed: 3 })
    // Over an hour at 50 req/s nearly every entry has been asked for again.
    expect(n.total).toBeGreaterThan(0.99 * fleet.totalEntries)
    expect(n.total).toBeLessThanOrEqual(fleet.totalEntries)
    expect(n.perSecond[0]!).toBeGreaterThan(n.perSecond[10]!)
  })
})

describe('fleet simulator', () => {
  it('lets clients join and leave mid-rollout and survives coordinator restarts', () => {
    const fleet = generateFleet({ clients: 300, entries: 20, rps: 1, spread: 0.5, seed: 9 })
    const sim = new FleetSim({
      fleet,
      seed: 9,
      engine: {
        budgets: { invalidate: { ratePerSec: 500, burst: 200 } },
        waves: { steps: [0.1, 1], bakeMs: 500 },
      },
      initiallyLive: 250,
    })
    const { rollout } = sim.engine.submit({ kind: 'invalidate', target: { all: true } })
    for (let i = 250; i < 300; i++) sim.at(i * 20, () => sim.join(i))
    for (let i = 0; i < 20; i++) sim.at(3000 + i, () => sim.leave(i))
    for (const t of [1000, 2500, 6000]) sim.at(t, () => sim.restart())
    sim.run()
    expect(sim.restarts).toBe(3)
    expect(sim.engine.get(rollout.id).state).toBe('completed')
    const seen = sim.received.get(rollout.id)!
    for (let i = 0; i < 300; i++) {
      expect(seen[i]).toBeLessThanOrEqual(1)
      if (sim.live[i]) expect(seen[i]).toBe(1)
    }
    expect(sim.pendingRefetches()).toBe(0)
  })
})

describe('svg plot', () => {
  it('draws axes, a legend and one path per series, escaping text', () => {
    const svg = plotSvg({
      title: 'a <b> & c',
      yLabel: 'fetches/s',
      series: [
        { label: 'naive', color: '#d00', perSecond: [1000, 10, 1] },
        { label: 'slew', color: '#00d', perSecond: Array.from({ length: 5000 }, () => 900) },
      ],
      lines: [{ label: 'budget', color: '#0a0', value: 1000 }],
    })
    expect(svg.startsWith('<svg')).toBe(true)
    expect(svg).toContain('a &lt;b&gt; &amp; c')
    expect(svg.match(/<path /g)).toHaveLength(2)
    expect(svg).toContain('time since the change (minutes)')
    expect(svg).toContain('>1k<')
    expect(svg.trim().endsWith('</svg>')).toBe(true)
  })
})

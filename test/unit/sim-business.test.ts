/**
 * `slew simulate --scenario business` (issue 15): the real watch and the
 * real attribution on a simulated seasonal series, figures from the virtual
 * clock on fixed seeds. Each long run learns three days and judges a few
 * more, one step a second: about 10–15 s each.
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { simulateCommand } from '../../src/cli/simulate.js'
import { InvalidOptionError } from '../../src/errors.js'
import { type BusinessResult, simulateBusiness } from '../../src/sim/business.js'
import { SimulatedClients } from '../../src/sim/business-clients.js'
import type { Window } from '../../src/sim/business-plan.js'
import { clientWeights } from '../../src/sim/business-series.js'

const LONG = { timeout: 60_000 }

describe('the business scenario at 1,000 events/s, drops of 10 %', () => {
  // No promotions here (the false-incident tests below have them).
  let r: BusinessResult
  beforeAll(() => {
    r = simulateBusiness({ rate: 1000, weeks: 0.4, incidents: 10, promotions: 0, seed: 2 })
  }, 60_000)

  it('catches every drop, p95 within 10 s of its start', () => {
    expect(r.injected).toEqual({ total: 10, rollout: 7, fleet: 3 })
    expect(r.missed).toBe(0)
    expect(r.detectionMs.p95).toBeLessThanOrEqual(10_000)
    // The coordinator pauses when it judges the opening second: 13 s later.
    expect(r.pausedWithinMs.p95).toBe(r.detectionMs.p95! + 13_000)
  })

  it("ranks a rollout-caused drop's culprit first, and blames none of the fleet-wide ones", () => {
    expect(r.attributionJudged).toBe(7)
    expect(r.attributionAccuracy).toBeGreaterThanOrEqual(0.9)
    expect(r.attributionAccuracyAfter30s).toBeGreaterThanOrEqual(0.9)
    expect(r.fleetWideBlamed).toBe(0)
  })
})

describe('false incidents', () => {
  it('at most one a week on daily and weekly seasonality', LONG, () => {
    // Judged from a Thursday to the Tuesday after: the weekend's dip in and out.
    const r = simulateBusiness({ rate: 100, weeks: 0.6, incidents: 0, promotions: 0, seed: 1 })
    expect(r.falseIncidentsPerWeek).toBeLessThanOrEqual(1)
  })

  it('at most one a week with promotions too, none open past the model relearning', LONG, () => {
    // A whole judged week (Thursday to Thursday), three promotions of +30-100 %.
    const r = simulateBusiness({ rate: 100, weeks: 1, incidents: 0, promotions: 3, seed: 2 })
    expect(r.promotions).toBeGreaterThanOrEqual(3)
    expect(r.falseIncidentsPerWeek).toBeLessThanOrEqual(1)
    expect(r.falseOpenShare).toBeLessThan(0.01)
    expect(r.falseOpenMaxMs ?? 0).toBeLessThan(30 * 60_000)
  })
})

describe("the clients' heartbeats", () => {
  it('carry the counts the per-second series sums: one Poisson process', () => {
    const base = new Float64Array(2_000).fill(100)
    const clients = new SimulatedClients({
      seed: 5,
      weights: clientWeights(3, 500, 1),
      base,
      level: base,
    })
    const window = { anchor: 0, rollouts: [], from: 60_000 } satisfies Window
    let beats = 0
    let carried = 0
    for (let now = 0; now < 1_060_000; now += 1000) {
      if (now === window.from) clients.start(window)
      clients.tick(now, (_id, n, intervalMs) => {
        beats++
        carried += n
        expect(intervalMs).toBeLessThanOrEqual(10_000)
      })
    }
    const beforeStop = clients.series.reduce((s, x) => s + x, 0)
    clients.stop(1_060_000)
    expect(beats).toBeGreaterThan(49_000)
    // Every event a heartbeat carried is in the series; the last partial intervals' too.
    expect(beforeStop).toBe(carried)
    const seconds = clients.series.slice(60, 1_060)
    expect(clients.drawn.slice(60, 1_060).every((d) => d === 1)).toBe(true)
    const mean = seconds.reduce((s, x) => s + x, 0) / seconds.length
    const variance = seconds.reduce((s, x) => s + (x - mean) ** 2, 0) / seconds.length
    expect(mean).toBeGreaterThan(97)
    expect(mean).toBeLessThan(103)
    expect(variance / mean).toBeGreaterThan(0.8)
    expect(variance / mean).toBeLessThan(1.2)
  })
})

/** Tags balanced and nested, attributes quoted, no raw ampersand: well-formed enough for a viewer. */
const wellFormed = (xml: string): boolean => {
  const open: string[] = []
  for (const [tag] of xml.matchAll(/<[^>]*>/g)) {
    const m = /^<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>$/.exec(tag)
    if (!m) return false
    const [, close, name, , self] = m
    if (self) continue
    if (!close) open.push(name!)
    else if (open.pop() !== name) return false
  }
  return open.length === 0 && !/&(?!amp;|lt;|gt;|quot;|#\d+;)/.test(xml)
}

describe('slew simulate --scenario business (the command)', () => {
  const run = (...args: string[]) => {
    let out = ''
    const code = simulateCommand(['--scenario', 'business', ...args], (s) => {
      out += s
    })
    return { code, out }
  }

  it('--json and --svg: the figures, and a plot of the first drop', LONG, () => {
    const svg = join(mkdtempSync(join(tmpdir(), 'slew-business-')), 'business.svg')
    const small = ['--weeks', '0.1', '--history', '1', '--incidents', '1', '--promotions', '0']
    const r = run(...small, '--rollout-share', '1', '--json', '--svg', svg)
    expect(r.code).toBe(0)
    const { wallMs, ...j } = JSON.parse(r.out) as Record<string, unknown>
    expect(wallMs).toBeGreaterThan(0)
    expect(j).toMatchObject({ scenario: 'business', seed: 1, runs: 1, rate: 100, drop: 0.1 })
    // Deterministic for a seed: the same figures as the same options run again.
    const { trace: _trace, ...again } = simulateBusiness({
      weeks: 0.1,
      history: 1,
      incidents: 1,
      promotions: 0,
      rolloutShare: 1,
    })
    expect(j).toEqual(JSON.parse(JSON.stringify(again)))
    for (const key of ['detectionMs', 'pausedWithinMs', 'falseIncidentsPerWeek', 'missed'])
      expect(j).toHaveProperty(key)
    expect(j).toHaveProperty('attributionAccuracy')
    expect(j).toHaveProperty('attributionAccuracyAfter30s')
    expect(j.trace).toBeUndefined()
    const plot = readFileSync(svg, 'utf8')
    expect(plot).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    expect(wellFormed(plot)).toBe(true)
    expect(plot).toContain('around the first injected drop of 10 %')
    expect(plot).toContain("the model's level")
    expect(plot).toContain('time from 15 minutes before the first drop (minutes)')
    // The injected drop shaded; the incident the watch opened marked.
    expect(plot).toMatch(/<rect [^>]*fill-opacity="0.1"><title>injected drop \(a rollout\)/)
    expect(plot).toContain('incident opened')
  })

  it.each([
    [['--drop', '0'], /`drop` to be a number in \[0.01, 1\], got `0`/],
    [['--rate', '-5'], /`rate` to be a number in \[1, 1000000\], got `-5`/],
    [['--rollout-share', '1.5'], /`rollout-share` to be a number in \[0, 1\], got `1.5`/],
    [['--client-sigma', 'wide'], /`client-sigma` to be a number, got `"wide"`/],
    [['--history', '0'], /`history` to be an integer in \[1, 12\], got `0`/],
    [
      ['--incidents', '50', '--weeks', '1'],
      /`incidents` to be at most 28 in 1 week \(they and half as many quiet times are 4 h apart\), got `50`/,
    ],
    [['--seed', '1.5'], /`seed` to be an integer, got `1.5`/],
    [['--steps', '0.5,1'], /`steps` to be not set \(not a flag of --scenario business\)/],
  ])('refuses %j with a coded error, before running', (args, message) => {
    let caught: unknown
    try {
      run(...args)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(InvalidOptionError)
    expect((caught as InvalidOptionError).code).toBe('E_INVALID_OPTION')
    expect((caught as Error).message).toMatch(message)
  })
})

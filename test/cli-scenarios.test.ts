/**
 * `slew simulate --scenario rewarm | metastable` as a user runs it: the built
 * bin, a real process, exit codes. Small fleets so each run takes well under
 * a second; every figure asserted is from the virtual clock.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bin, slew } from './helpers/cli.js'

const tmp = () => mkdtempSync(join(tmpdir(), 'slew-scenarios-'))

/** The text of the plot's title (the first, bold, line). */
const titleOf = (svg: string) => /<text[^>]*font-weight="600"[^>]*>([^<]+)<\/text>/.exec(svg)?.[1]

const expectPlot = (svg: string, yLabel: string, legend: string[]) => {
  expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  expect(svg.trimEnd()).toMatch(/<\/svg>$/)
  expect(titleOf(svg)).toBeTruthy()
  // Axes: the x label, the y label, tick labels.
  expect(svg).toContain('time since the change (')
  expect(svg).toContain(yLabel)
  expect(svg.match(/text-anchor="end" dominant-baseline="middle"/g)?.length).toBeGreaterThanOrEqual(
    2,
  )
  for (const entry of legend) expect(svg).toContain(entry)
}

describe('slew simulate --scenario rewarm', () => {
  const dir = tmp()
  const svg = join(dir, 'rewarm.svg')
  const r = slew(
    'simulate',
    '--scenario',
    'rewarm',
    '--clients',
    '10',
    '--work',
    '20000',
    '--capacity',
    '1000',
    '--json',
    '--svg',
    svg,
  )

  it('--json: completion ≥ ideal, the peak within the budget bound, the figures typed', () => {
    expect(r.code, r.err).toBe(0)
    const j = JSON.parse(r.out)
    expect(j.scenario).toBe('rewarm')
    expect(j.work).toBe(20_000)
    expect(j.capacity).toBe(1000)
    expect(j.budget).toBe(3 * j.capacity)
    expect(j.slew.idealMs).toBe((j.work / Math.min(j.capacity, j.budget)) * 1000)
    expect(j.slew.completionMs).toBeGreaterThanOrEqual(j.slew.idealMs)
    expect(j.slew.completionMs).toBeLessThan(3 * j.slew.idealMs)
    expect(j.slew.overTargetFraction).toBeGreaterThanOrEqual(0)
    expect(j.slew.overTargetFraction).toBeLessThanOrEqual(1)
    expect(j.slew.fetches).toBe(j.work)
    // B2: burst + budget·(1 s + lease TTL) in any 1 s window; and the origin's capacity found, not the budget.
    expect(j.boundPerSec).toBe(j.burst + j.budget * (1 + j.options.ttl / 1000))
    expect(j.slew.peakPerSec).toBeGreaterThan(0)
    expect(j.slew.peakPerSec).toBeLessThanOrEqual(j.boundPerSec)
    expect(j.slew.peakPerSec).toBeLessThan(1.2 * j.capacity)
    expect(j.naive.completionMs).toBeGreaterThanOrEqual(j.slew.idealMs)
    expect(j.naive.overTargetFraction).toBeGreaterThan(j.slew.overTargetFraction)
    // Per-second series are for the plot only.
    expect(j.slew.perSecond).toBeUndefined()
    expect(j.slew.latency).toBeUndefined()
  })

  it('--svg writes a plot with a title, axes and a legend', () => {
    const plot = readFileSync(svg, 'utf8')
    expect(titleOf(plot)).toBe('Rewarm of 20,000 key fetches: 10 clients, origin capacity 1,000/s')
    expectPlot(plot, 'origin latency, worst per second (ms, log scale)', [
      'naive: everyone at once',
      'slew: adaptive rate',
      'latency target 100 ms',
    ])
  })

  it('prints a table without --json', () => {
    const t = slew('simulate', '--scenario', 'rewarm', '--clients', '5', '--work', '2000')
    expect(t.code, t.err).toBe(0)
    expect(t.out).toMatch(/^rewarm: 2,000 key fetches over 5 clients/)
    expect(t.out).toMatch(/ideal \(work ÷ min\(capacity, budget\)\)/)
  })
})

describe('slew simulate --scenario metastable', () => {
  const dir = tmp()
  const svg = join(dir, 'metastable.svg')
  const r = slew(
    'simulate',
    '--scenario',
    'metastable',
    '--clients',
    '10',
    '--hot-keys',
    '200',
    '--json',
    '--svg',
    svg,
  )

  it('--json: recovery ≥ ideal, the peak within the budget bound, naive.recoveredMs a time or null', () => {
    expect(r.code, r.err).toBe(0)
    const j = JSON.parse(r.out)
    expect(j.scenario).toBe('metastable')
    expect(j.capacity).toBe(0.3 * 10 * 100)
    expect(j.budget).toBe(3 * j.capacity)
    expect(j.warmHitRate).toBe(0.9)
    expect(j.slew.idealRecoveryMs).toBe(((10 * 200) / j.capacity) * 1000)
    expect(typeof j.slew.recoveredMs).toBe('number')
    expect(j.slew.recoveredMs).toBeGreaterThanOrEqual(j.slew.idealRecoveryMs)
    expect(j.slew.recoveredMs).toBeLessThanOrEqual(j.options.horizon)
    expect(j.naive.recoveredMs === null || typeof j.naive.recoveredMs === 'number').toBe(true)
    if (j.naive.recoveredMs !== null)
      expect(j.naive.recoveredMs).toBeGreaterThanOrEqual(j.slew.idealRecoveryMs)
    expect(j.boundPerSec).toBe(j.burst + j.budget * (1 + j.leaseTtlMs / 1000))
    expect(j.slew.peakPerSec).toBeGreaterThan(0)
    expect(j.slew.peakPerSec).toBeLessThanOrEqual(j.boundPerSec)
    expect(Number.isInteger(j.slew.shed) && j.slew.shed >= 0).toBe(true)
    expect(j.slew.failed).toBe(0)
    expect(j.slew.hitRate).toBeUndefined()
  })

  it('--svg writes a plot with a title, axes and a legend', () => {
    const plot = readFileSync(svg, 'utf8')
    expect(titleOf(plot)).toBe(
      'Cache lost at a 90 % hit rate; origin serves 300/s (30 % of traffic)',
    )
    expectPlot(plot, 'hit rate (%)', [
      'naive: every miss to the origin',
      'slew: budgeted, shed, hottest first',
      'warm hit rate 90 %',
    ])
  })

  it("the plot's title gives the origin's share of the traffic that --capacity sets", () => {
    const out = join(tmp(), 'low.svg')
    const low = slew(
      'simulate',
      '--scenario',
      'metastable',
      '--clients',
      '10',
      '--hot-keys',
      '100',
      '--capacity',
      '200',
      '--svg',
      out,
    )
    expect(low.code, low.err).toBe(0)
    expect(low.out).toMatch(/origin capacity 200\/s/)
    expect(titleOf(readFileSync(out, 'utf8'))).toBe(
      'Cache lost at a 90 % hit rate; origin serves 200/s (20 % of traffic)',
    )
  })
})

describe('slew simulate --scenario regression', () => {
  const dir = tmp()
  const svg = join(dir, 'regression.svg')
  const run = slew(
    'simulate',
    '--scenario',
    'regression',
    '--clients',
    '2000',
    '--runs',
    '3',
    '--json',
    '--svg',
    svg,
  )

  it('--json: the bad change is caught in the first wave and rolled back, within the budget', () => {
    expect(run.code, run.err).toBe(0)
    const j = JSON.parse(run.out) as {
      scenario: string
      detectionMs: { p95: number }
      power: number
      caughtInFirstWave: number
      peakPerSec: number
      budget: number
      runs?: unknown
    }
    expect(j.scenario).toBe('regression')
    expect(j.detectionMs.p95).toBeGreaterThan(0)
    expect(j.detectionMs.p95).toBeLessThanOrEqual(5_000)
    expect(j.power).toBe(1)
    expect(j.caughtInFirstWave).toBe(1)
    expect(j.peakPerSec).toBeLessThanOrEqual(j.budget * 1.1)
    // Per-run figures and the trace are for the plot, not the JSON.
    expect(j.runs).toBeUndefined()
  })

  it('--svg plots the metric by cohort with the first delivery and the verdict marked', () => {
    const plot = readFileSync(svg, 'utf8')
    expect(titleOf(plot)).toBe(
      'A bad config change over 2,000 clients: errorRate by cohort (first run)',
    )
    expectPlot(plot, 'origin error rate, cohort mean (%)', [
      'treated: applied the change',
      'control: not yet reached',
      'first delivery',
      'gate: rollback',
    ])
  })

  it('refuses a metric it does not know', () => {
    const bad = slew('simulate', '--scenario', 'regression', '--metric', 'orders')
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('E_INVALID_OPTION')
  })
})

describe('slew simulate refuses bad input with exit code 2 and a coded error', () => {
  it.each([
    [['--scenario', 'rewarm', '--capacity', '0'], /`capacity` to be a finite number > 0, got `0`/],
    [['--scenario', 'rewarm', '--work', '1.5'], /`work` to be an integer >= 1, got `1.5`/],
    [['--scenario', 'rewarm', '--work', 'lots'], /`work` to be a number, got `"lots"`/],
    [['--scenario', 'rewarm', '--steps', '0.5,0.1,1'], /`steps` to be strictly increasing/],
    [['--scenario', 'rewarm', '--max-batch', '0'], /`max-batch` to be an integer >= 1, got `0`/],
    [
      ['--scenario', 'metastable', '--one-off', '1'],
      /`one-off` to be a number in \[0, 1\), got `1`/,
    ],
    [['--scenario', 'metastable', '--hot-keys', '0'], /`hot-keys` to be an integer >= 1/],
    [['--scenario', 'metastable', '--max-wait', '-1'], /`max-wait` to be a finite number > 0/],
    [['--scenario', 'metastable', '--seed', '1.5'], /`seed` to be an integer, got `1.5`/],
    // 50 clients × 100 rps × 10 % one-off: 500 fetches/s miss even when warm.
    [
      ['--scenario', 'metastable', '--capacity', '500'],
      /`capacity` to be more than the steady miss load, 500 fetches\/s .*no system recovers, got `500`/,
    ],
    [
      ['--scenario', 'metastable', '--capacity', '100', '--one-off', '0.5', '--clients', '4'],
      /steady miss load, 200 fetches\/s/,
    ],
    [['--scenario', 'sideways'], /`scenario` to be one of invalidate-all, rewarm, metastable/],
  ])('%j', (args, message) => {
    const r = slew('simulate', ...args)
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/^slew simulate: E_INVALID_OPTION: /)
    expect(r.err).toMatch(message)
    expect(r.out).toBe('')
  })

  it.each([
    // The default scenario took these and ignored them.
    ['invalidate-all', ['--capacity', '500'], 'capacity', '"500"'],
    ['invalidate-all', ['--work', '10'], 'work', '"10"'],
    ['invalidate-all', ['--hot-keys', '10'], 'hot-keys', '"10"'],
    ['rewarm', ['--entries', '5'], 'entries', '"5"'],
    ['rewarm', ['--mode', 'hard'], 'mode', '"hard"'],
    ['rewarm', ['--one-off', '0.2'], 'one-off', '"0.2"'],
    ['metastable', ['--max-batch', '5'], 'max-batch', '"5"'],
    ['metastable', ['--steps', '0.5,1'], 'steps', '"0.5,1"'],
    ['metastable', ['--work', '10'], 'work', '"10"'],
  ])('--scenario %s refuses %j: not one of its flags', (scenario, args, field, value) => {
    const r = slew('simulate', '--scenario', scenario, ...args)
    expect(r.code).toBe(2)
    expect(r.err.trim()).toBe(
      `slew simulate: E_INVALID_OPTION: Expected \`${field}\` to be not set (not a flag of --scenario ${scenario}), got \`${value}\` (string)`,
    )
    expect(r.out).toBe('')
  })

  it('the default scenario refuses them too without --scenario', () => {
    const r = slew('simulate', '--clients', '10', '--capacity', '500')
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/`capacity` to be not set \(not a flag of --scenario invalidate-all\)/)
  })
})

describe('slew simulate --svg to a path that cannot be written', () => {
  const scenarios = [
    ['invalidate-all', '--clients', '10', '--entries', '5'],
    ['rewarm', '--clients', '5', '--work', '500'],
    ['metastable', '--clients', '5', '--hot-keys', '50'],
  ]

  it.each(scenarios)(
    '--scenario %s: a missing directory is refused before the run (exit 2, no stack)',
    (scenario, ...args) => {
      const r = slew('simulate', '--scenario', scenario, ...args, '--svg', '/nonexistent-dir/x.svg')
      expect(r.code).toBe(2)
      expect(r.err.trim()).toBe(
        'slew simulate: E_INVALID_OPTION: Expected `svg` to be a path in an existing directory (no /nonexistent-dir), got `"/nonexistent-dir/x.svg"` (string)',
      )
      expect(r.out).toBe('')
    },
  )

  it('a directory, a path under a file and an empty path are refused before the run', () => {
    const dir = tmp()
    const cases: [string, RegExp][] = [
      [dir, /`svg` to be a file, not a directory/],
      [join(bin, 'x.svg'), /`svg` to be a path in a directory \(.*main\.js is not one\)/],
      ['', /`svg` to be a file path, got `""`/],
    ]
    for (const [path, message] of cases) {
      const r = slew('simulate', '--clients', '10', '--entries', '5', '--svg', path)
      expect(r.code, path).toBe(2)
      expect(r.err).toMatch(/^slew simulate: E_INVALID_OPTION: /)
      expect(r.err).toMatch(message)
      expect(r.err).not.toMatch(/\n\s+at /)
      expect(r.out).toBe('')
    }
    expect(existsSync(join(dir, 'x.svg'))).toBe(false)
  })

  it.each(scenarios)(
    '--scenario %s: a write that fails after the run is a coded error, not a stack',
    (scenario, ...args) => {
      // /dev/full passes the checks (it exists and is writable) but every write fails: ENOSPC.
      const r = slew('simulate', '--scenario', scenario, ...args, '--json', '--svg', '/dev/full')
      expect(r.code).toBe(2)
      expect(r.err.trim()).toBe(
        'slew simulate: E_INVALID_OPTION: Expected `svg` to be a file that can be written (writing it failed: ENOSPC), got `"/dev/full"` (string)',
      )
      expect(r.out).toBe('')
    },
  )
})

/** The `slew` command as a user runs it: the built bin, a real process, exit codes. */
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { slew } from './helpers/cli.js'

describe('slew simulate', () => {
  it('--json: amplification ≤ 1, efficiency ≥ 0.9, naive peak ≥ 10× slew; --svg writes a plot', () => {
    const svg = join(mkdtempSync(join(tmpdir(), 'slew-')), 'plot.svg')
    const r = slew(
      'simulate',
      '--clients',
      '10000',
      '--entries',
      '100',
      '--budget',
      '1000',
      '--json',
      '--svg',
      svg,
    )
    expect(r.code, r.err).toBe(0)
    const j = JSON.parse(r.out)
    expect(j.slew.amplification).toBeLessThanOrEqual(1)
    expect(j.slew.efficiency).toBeGreaterThanOrEqual(0.9)
    expect(j.naive.peakPerSec).toBeGreaterThanOrEqual(10 * j.slew.peakPerSec)
    for (const k of ['completionMs', 'idealMs', 'peakPerSec'])
      expect(typeof j.slew[k]).toBe('number')
    const plot = readFileSync(svg, 'utf8')
    expect(plot).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    expect(plot).toContain('naive broadcast')
    expect(plot).toContain('origin fetches per second')
  })

  it('prints a readable table by default', () => {
    const r = slew('simulate', '--clients', '500', '--entries', '20')
    expect(r.code, r.err).toBe(0)
    expect(r.out).toMatch(/peak origin fetches in any 1 s/)
    expect(r.out).toMatch(/efficiency \(ideal ÷ actual\)/)
  })

  it.each([
    [['--budget', '0'], /E_INVALID_OPTION: Expected `budget` to be a finite number > 0, got `0`/],
    [['--budget', '-5'], /`budget` to be a finite number > 0, got `-5`/],
    [['--budget', 'lots'], /`budget` to be a number, got `"lots"`/],
    [['--steps', '0.5,0.1,1'], /`steps` to be strictly increasing/],
    [['--steps', '0.1,0.5'], /`steps` to be an array that ends at 1/],
    [['--bake', 'NaN'], /`bake`/],
    [['--clients', 'Infinity'], /`clients` to be an integer >= 1/],
    [['--mode', 'medium'], /`mode`/],
    [['--frobnicate'], /E_UNKNOWN_FLAG: Unknown flag `--frobnicate`/],
    [['--clients'], /`clients`/],
  ])('refuses %j with exit code 2 and a coded error', (args, message) => {
    const r = slew('simulate', ...args)
    expect(r.code).toBe(2)
    expect(r.err).toMatch(message)
    expect(r.out).toBe('')
  })
})

describe('slew plan', () => {
  it('--json prints the waves, their times and the predicted peak', () => {
    const r = slew('plan', '--clients', '10000', '--entries', '100', '--budget', '1000', '--json')
    expect(r.code, r.err).toBe(0)
    const j = JSON.parse(r.out)
    expect(j.waves.map((w: { shards: number[] }) => w.shards)).toEqual([
      [0, 1],
      [1, 5],
      [5, 25],
      [25, 100],
    ])
    expect(j.waves.reduce((n: number, w: { clients: number }) => n + w.clients, 0)).toBe(10_000)
    for (const w of j.waves) expect(w.endMs).toBeGreaterThanOrEqual(w.startMs)
    expect(j.peakUnitsPerSec).toBeLessThanOrEqual(1000 + 1000)
    expect(j.estimatedMs).toBeLessThanOrEqual(1.1 * j.idealMs)
  })

  it('refuses bad input with exit code 2', () => {
    expect(slew('plan', '--steps', '1,0.5').code).toBe(2)
    expect(slew('plan', '--kind', 'nuke').err).toMatch(/`kind`/)
    expect(slew('nonsense').code).toBe(2)
  })

  it('answers --help with exit code 0', () => {
    const r = slew('plan', '--help')
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/--clients N/)
  })
})

/**
 * Fleet-wide series (issue 15, item 1): points land in their second, a
 * heartbeat's count is spread over the interval it covers, a second is
 * taken once it has settled and only once (past the newest value, once the
 * series has been silent a minute), history is bounded, and a new
 * metric past the bound is refused rather than growing without end.
 */
import { describe, expect, it } from 'vitest'
import { SeriesBook } from '../../src/watch/series.js'

describe('the series book', () => {
  it('sums points per second and spreads counts over their interval', () => {
    const b = new SeriesBook({ settleMs: 2000 })
    expect(b.add('orders', 10_200, 3)).toBe(true)
    expect(b.add('orders', 10_900, 4)).toBe(true)
    // 10 orders counted over 9.5 s … 14.5 s: 1 to the half second before 10 s, 2 to each second after.
    expect(b.spread('orders', 9_500, 14_500, 10)).toBe(true)
    expect(b.take('orders', 13_000)).toEqual([
      { at: 9_000, value: 1 },
      { at: 10_000, value: 9 },
    ])
    // Taken once: later points for a taken second are refused, not double-counted.
    expect(b.add('orders', 10_500, 5)).toBe(false)
    expect(b.take('orders', 13_000)).toEqual([])
    const rest = b.take('orders', 20_000)
    expect(rest.map((s) => s.value)).toEqual([2, 2, 2, 1])
    expect(rest.reduce((n, s) => n + s.value, 0) + 10).toBeCloseTo(17)
    // Silent for a minute: the seconds since are taken, as 0 (a source that stopped is judged).
    expect(b.take('orders', 30_000)).toEqual([])
    expect(b.take('orders', 78_000).map((s) => s.value)).toEqual([0, 0, 0])
  })

  it('keeps a bounded history and a bounded number of metrics', () => {
    const b = new SeriesBook({ keepSteps: 10, maxMetrics: 2 })
    for (let t = 0; t < 100_000; t += 1000) b.add('a', t, 1)
    expect(b.history('a')).toHaveLength(10)
    expect(b.history('a')[0]!.at).toBe(90_000)
    // Older than the ring keeps: refused.
    expect(b.add('a', 5_000, 1)).toBe(false)
    expect(b.add('b', 0, 1)).toBe(true)
    expect(b.add('c', 0, 1)).toBe(false)
    expect(b.metrics()).toEqual(['a', 'b'])
    // After a long gap, only the kept span is taken, the empty seconds as 0.
    expect(b.take('a', 200_000).length).toBeLessThanOrEqual(10)
  })

  it('refuses values that are not numbers', () => {
    const b = new SeriesBook()
    expect(b.add('a', 0, Number.NaN)).toBe(false)
    expect(b.add('a', Number.POSITIVE_INFINITY, 1)).toBe(false)
    expect(b.spread('a', 0, 1000, Number.NaN)).toBe(false)
  })

  it('keeps no spread count from before its floor: a book started mid-stream sees no partial seconds', () => {
    const b = new SeriesBook({ floorMs: 10_500 })
    // A heartbeat's count over 5 s … 15 s: only the whole seconds from 11 s on are kept.
    expect(b.spread('orders', 5_000, 15_000, 10)).toBe(true)
    expect(b.take('orders', 18_000).map((s) => [s.at, s.value])).toEqual([
      [11_000, 1],
      [12_000, 1],
      [13_000, 1],
      [14_000, 1],
    ])
  })
})

import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../../src/errors.js'
import { Bucket } from '../../src/limiter/bucket.js'
import { gcraAvailable, gcraGrant, gcraReserve, gcraTake } from '../../src/limiter/gcra.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'

const p = { ratePerSec: 10, burst: 5 } // one unit per 100 ms

describe('gcra', () => {
  it('lets a full bucket spend its burst at once, then paces at the rate', () => {
    let tat = Number.NEGATIVE_INFINITY
    for (let i = 0; i < 5; i++) {
      const r = gcraTake(tat, 0, 1, p)
      expect(r.ok).toBe(true)
      tat = r.tat
    }
    const refused = gcraTake(tat, 0, 1, p)
    expect(refused.ok).toBe(false)
    expect(refused.retryAfterMs).toBeCloseTo(100, 9)
    expect(gcraTake(tat, 100, 1, p).ok).toBe(true)
  })

  it('weights takes by cost and says exactly when a refused take would pass', () => {
    const first = gcraTake(Number.NEGATIVE_INFINITY, 0, 4, p)
    expect(first.ok).toBe(true)
    const second = gcraTake(first.tat, 0, 3, p)
    expect(second.ok).toBe(false)
    expect(second.retryAfterMs).toBeCloseTo(200, 9)
    expect(gcraTake(first.tat, 199, 3, p).ok).toBe(false)
    expect(gcraTake(first.tat, 200, 3, p).ok).toBe(true)
  })

  it('takes an oversize cost only from a full bucket, leaving it in debt', () => {
    const big = gcraTake(Number.NEGATIVE_INFINITY, 0, 12, p)
    expect(big.ok).toBe(true)
    expect(big.tat).toBeCloseTo(1200, 9)
    const again = gcraTake(big.tat, 500, 12, p)
    expect(again.ok).toBe(false)
    expect(again.retryAfterMs).toBeCloseTo(700, 9)
    // A small take waits until the debt is within the burst.
    expect(gcraTake(big.tat, 500, 1, p).ok).toBe(false)
    expect(gcraTake(big.tat, 800, 1, p).ok).toBe(true)
  })

  it('grants whole tokens, partially when short, with the wait for the rest', () => {
    const g = gcraGrant(Number.NEGATIVE_INFINITY, 0, 8, p)
    expect(g.granted).toBe(5)
    expect(g.retryAfterMs).toBeCloseTo(300, 9)
    expect(gcraAvailable(g.tat, 0, p)).toBe(0)
    expect(gcraAvailable(g.tat, 250, p)).toBe(2)
    const later = gcraGrant(g.tat, 250, 8, p)
    expect(later.granted).toBe(2)
  })

  it('reserves ahead: the budget is committed now and usable after a delay', () => {
    let tat = Number.NEGATIVE_INFINITY
    const delays: number[] = []
    for (let i = 0; i < 8; i++) {
      const r = gcraReserve(tat, 0, 1, p)
      tat = r.tat
      delays.push(r.delayMs)
    }
    expect(delays.map((d) => Math.round(d))).toEqual([0, 0, 0, 0, 0, 100, 200, 300])
  })

  it('never lets more than burst + rate·W through any window, under random load', () => {
    const clock = new VirtualClock(0)
    const bucket = new Bucket({ ratePerSec: 37, burst: 9 }, clock)
    const takes: [number, number][] = []
    let seed = 7
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    for (let i = 0; i < 5000; i++) {
      clock.advance(rand() * 40)
      const cost = 1 + Math.floor(rand() * 4)
      if (bucket.take(cost).ok) takes.push([clock.now(), cost])
    }
    for (const w of [1, 50, 333, 1000, 4000]) {
      let j = 0
      let sum = 0
      for (let i = 0; i < takes.length; i++) {
        sum += takes[i]![1]
        while (takes[j]![0] <= takes[i]![0] - w) sum -= takes[j++]![1]
        expect(sum).toBeLessThanOrEqual(9 + (37 * w) / 1000 + 1e-6)
      }
    }
  })

  it('refuses a budget that breaks a rule, naming the field', () => {
    const clock = new VirtualClock()
    expect(() => new Bucket({ ratePerSec: 0, burst: 1 }, clock)).toThrow(InvalidOptionError)
    expect(() => new Bucket({ ratePerSec: 1, burst: 0.5 }, clock)).toThrow(
      /`burst` to be a finite number >= 1/,
    )
    expect(() => new Bucket({ ratePerSec: Number.NaN, burst: 1 }, clock)).toThrow(/`ratePerSec`/)
  })
})

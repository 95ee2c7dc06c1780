/**
 * The app's signals (issue 14, item 1): per-heartbeat deltas of counts and
 * mergeable summaries of observations; bad names and values are typed
 * errors that change nothing; the set of names is bounded.
 */
import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../../src/errors.js'
import { MAX_SIGNALS, Signals } from '../../src/sdk/signals.js'

describe('Signals', () => {
  it('reports what happened since the last heartbeat, then starts over', () => {
    const s = new Signals()
    expect(s.take()).toEqual({})
    s.count('orders')
    s.count('orders', 2)
    s.observe('checkout.ms', 30)
    s.observe('checkout.ms', 50)
    expect(s.take()).toEqual({
      counts: { orders: 3 },
      observed: { 'checkout.ms': { n: 2, sum: 80, max: 50 } },
    })
    expect(s.take()).toEqual({})
    s.count('orders', 0)
    expect(s.take()).toEqual({ counts: { orders: 0 } })
  })

  it('refuses a bad name or value with a typed error, and keeps what it had', () => {
    const s = new Signals()
    s.count('orders')
    expect(() => s.count('has space')).toThrow(InvalidOptionError)
    expect(() => s.count('orders', Number.NaN)).toThrow(/finite number/)
    expect(() => s.observe('x', Number.POSITIVE_INFINITY)).toThrow(InvalidOptionError)
    expect(() => s.count('')).toThrow(/signal name/)
    expect(s.take()).toEqual({ counts: { orders: 1 } })
  })

  it('keeps at most MAX_SIGNALS names and clamps figures to what a heartbeat carries', () => {
    const s = new Signals()
    for (let i = 0; i < MAX_SIGNALS; i++) s.count(`m${i}`)
    expect(() => s.count('one-more')).toThrow(/at most 100 signal names/)
    // A name already known keeps working.
    s.count('m0', 1e300)
    expect(s.take().counts?.m0).toBe(1e12)
  })
})

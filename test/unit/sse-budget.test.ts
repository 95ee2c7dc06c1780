/** The stream's byte budget: events end at a blank line whatever the line ends (LF, CR, CRLF), split anywhere. */
import { describe, expect, it } from 'vitest'
import { SseBudget } from '../../src/sdk/sse-budget.js'

const bytes = (s: string) => new TextEncoder().encode(s)

/** Feed `text` in pieces of `size` bytes; true if it all fits. */
const fits = (max: number, text: string, size = 1) => {
  const b = new SseBudget(max)
  const all = bytes(text)
  for (let i = 0; i < all.length; i += size) if (!b.take(all.subarray(i, i + size))) return false
  return true
}

describe('SseBudget', () => {
  it('counts each event on its own, with any line ends, split at any byte', () => {
    const event = 'event: change\ndata: 0123456789\n\n' // 31 bytes before the blank line
    for (const end of ['\n', '\r', '\r\n'])
      for (const size of [1, 2, 3, 7, 1000]) {
        const text = event.replaceAll('\n', end).repeat(50)
        expect(fits(31, text, size), JSON.stringify({ end, size })).toBe(true)
        expect(fits(30, text, size), JSON.stringify({ end, size })).toBe(false)
      }
  })

  it('refuses a line that never ends, and an event that never ends, once over the limit', () => {
    expect(fits(100, 'x'.repeat(100), 10)).toBe(true)
    expect(fits(100, 'x'.repeat(101), 10)).toBe(false)
    expect(fits(100, 'data: x\n'.repeat(12), 5)).toBe(true) // 96 bytes
    expect(fits(100, 'data: x\n'.repeat(13), 5)).toBe(false)
    // A CRLF split across chunks is one line end, not a blank line that would reset the count.
    expect(fits(100, 'data: x\r\n'.repeat(12), 8)).toBe(true)
    expect(fits(100, 'data: x\r\n'.repeat(13), 8)).toBe(false)
  })
})

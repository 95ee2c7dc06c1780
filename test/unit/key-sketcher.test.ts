/** The SDK's key sketcher: silent until asked, a filter when due, every added key reported once, none lost to a failed heartbeat. */
import { describe, expect, it } from 'vitest'
import { decodeSketch, mayHold } from '../../src/invalidation/sketch.js'
import { MAX_ADDED_KEYS } from '../../src/protocol/sketch.js'
import { KeySketcher } from '../../src/sdk/key-sketch.js'

const setup = () => {
  const cache = new Set<string>()
  let now = 0
  const s = new KeySketcher(
    { fpr: 0.01, everyMs: 60_000, maxBytes: 1024 },
    () => cache.values(),
    () => cache.size,
    () => now,
  )
  const put = (k: string) => {
    cache.add(k)
    s.added(k)
  }
  return { s, cache, put, tick: (ms: number) => (now += ms) }
}

describe('KeySketcher', () => {
  it('sends nothing to a coordinator that does not ask, and a filter once it does', () => {
    const { s, put } = setup()
    put('a')
    expect(s.take()).toBeUndefined()
    s.answer({ ok: true })
    expect(s.take()).toBeUndefined()
    s.answer({ ok: true, sketch: 'want' })
    put('b')
    const t = s.take()!
    const filter = decodeSketch(t.update.filter!)
    for (const k of ['a', 'b']) expect(mayHold(filter, k)).toBe(true)
    // Sketching just began: what was cached before went untracked, so the filter goes alone
    // (the coordinator checks it against every change it skipped this client id for lately).
    expect(t.update.added).toBeUndefined()
    // Then only what was added since, until the filter is due again.
    s.answer({ sketch: 'ok' })
    put('c')
    expect(s.take()!.update).toEqual({ added: ['c'] })
  })

  it('gives a failed heartbeat its keys and its filter back', () => {
    const { s, put, tick } = setup()
    s.answer({ sketch: 'want' })
    s.take()
    s.answer({ sketch: 'ok' })
    put('x')
    const lost = s.take()!
    put('y')
    lost.restore()
    expect(new Set(s.take()!.update.added)).toEqual(new Set(['x', 'y']))
    tick(60_000)
    const due = s.take()!
    expect(due.update.filter).toBeDefined()
    due.restore()
    expect(s.take()!.update.filter).toBeDefined()
  })

  it('sends a filter alone when more keys were added than a heartbeat carries', () => {
    const { s, put } = setup()
    s.answer({ sketch: 'want' })
    s.take()
    s.answer({ sketch: 'ok' })
    for (let i = 0; i <= MAX_ADDED_KEYS; i++) put(`k${i}`)
    const t = s.take()!.update
    expect(t.added).toBeUndefined()
    expect(t.filter).toBeDefined()
    put('long'.repeat(300))
    expect(s.take()!.update.added).toBeUndefined()
  })
})

/** The SDK's exactly-once memory on its own: epochs, resume points, resets, duplicates. */
import { describe, expect, it } from 'vitest'
import { ApplyMemory } from '../../src/sdk/apply-memory.js'

describe('ApplyMemory', () => {
  it('counts within an epoch, afresh in a new one, and keeps the change ids', () => {
    const m = new ApplyMemory()
    m.hello('a')
    expect(m.check('a', 10, 'chg-a-1')).toBe('apply')
    m.applied(10, 'chg-a-1')
    expect(m.check('a', 10, 'chg-a-2')).toBe('replayed')
    expect(m.check('b', 11, 'chg-b-1')).toBe('wrong-epoch')
    // A new epoch whose numbers are lower (a clock gone back): followed.
    m.hello('b')
    expect(m.lastSeq).toBeUndefined()
    expect(m.check('b', 3, 'chg-b-1')).toBe('apply')
    m.applied(3, 'chg-b-1')
    // The ids it applied stay applied: sent again, a duplicate, never applied twice.
    expect(m.check('b', 4, 'chg-a-1')).toBe('duplicate')
    expect(m.check('a', 20, 'chg-a-9')).toBe('wrong-epoch')
  })

  it('takes a reset of its epoch whatever its number', () => {
    const m = new ApplyMemory()
    m.hello('a')
    m.applied(100)
    expect(m.check('a', 50)).toBe('replayed')
    expect(m.check('a', 50, undefined, true)).toBe('apply')
    expect(m.check('z', 500, undefined, true)).toBe('wrong-epoch')
  })

  it('keeps a resume point whose epoch it never knew (a restart with only a sequence number)', () => {
    const m = new ApplyMemory()
    m.lastSeq = 42
    m.hello('a')
    expect(m).toMatchObject({ epoch: 'a', lastSeq: 42 })
    expect(m.check('a', 42, 'chg-a-1')).toBe('replayed')
    expect(m.check('a', 43, 'chg-a-2')).toBe('apply')
  })
})

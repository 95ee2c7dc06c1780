import { describe, expect, it } from 'vitest'
import { RewarmProgress } from '../../src/warmup/progress.js'

describe('RewarmProgress: a rewarm checkpoint', () => {
  it('moves its cursor over what is settled in order and lists what is settled past it', () => {
    const p = new RewarmProgress(10, true)
    for (const i of [0, 1, 3, 4, 7]) p.settle(i, 'done')
    p.settle(2, 'failed')
    p.settle(3, 'done') // twice: counted once
    expect(p.report()).toEqual({ done: 5, failed: 1, total: 10, cursor: 5, ahead: [7] })
    expect(p.finished).toBe(false)
    for (const i of [5, 6, 8, 9]) p.settle(i, 'done')
    expect(p.report()).toEqual({ done: 9, failed: 1, total: 10, cursor: 10 })
    expect(p.finished).toBe(true)
  })

  it('resumes from a checkpoint: only what it had not settled is left', () => {
    const before = new RewarmProgress(8, true)
    for (const i of [0, 1, 2, 5]) before.settle(i, 'done')
    const after = new RewarmProgress(8, true)
    const left = after.resume(before.report())
    expect([0, 1, 2, 3, 4, 5, 6, 7].filter(left)).toEqual([3, 4, 6, 7])
    expect(after.report()).toEqual({ done: 4, total: 8, cursor: 3, ahead: [5] })
    for (const i of [3, 4, 6, 7]) after.settle(i, 'done')
    expect(after.report()).toEqual({ done: 8, total: 8, cursor: 8 })
  })

  it('resumes its failed count, never more than the indexes it names', () => {
    const before = new RewarmProgress(6, true)
    before.settle(0, 'done')
    before.settle(1, 'failed')
    before.settle(4, 'failed')
    const after = new RewarmProgress(6, true)
    const left = after.resume(before.report())
    expect([0, 1, 2, 3, 4, 5].filter(left)).toEqual([2, 3, 5])
    expect(after.report()).toEqual({ done: 1, failed: 2, total: 6, cursor: 2, ahead: [4] })
    // A record that claims more than it names is held to what it names.
    const odd = new RewarmProgress(6, true)
    odd.resume({ done: 6, failed: 6, total: 6, cursor: 1 })
    expect(odd.report()).toEqual({ done: 0, failed: 1, total: 6, cursor: 1 })
  })

  it('counts keys skipped (the cache is full) without settling them: a resumed run decides again', () => {
    const p = new RewarmProgress(6, true)
    p.settle(0, 'done')
    p.settle(1, 'done')
    p.settle(4, 'skipped')
    p.settle(5, 'skipped')
    p.settle(5, 'done') // decided: counted once
    expect(p.report()).toEqual({ done: 2, skipped: 2, total: 6, cursor: 2 })
    expect(p.finished).toBe(false)
    p.settle(2, 'done')
    p.settle(3, 'failed')
    expect(p.finished).toBe(true)
    const after = new RewarmProgress(6, true)
    const left = after.resume(p.report())
    expect([0, 1, 2, 3, 4, 5].filter(left)).toEqual([4, 5])
    expect(after.report()).toEqual({ done: 3, failed: 1, total: 6, cursor: 4 })
  })

  it('keeps its report small: at most 1000 indexes past the cursor', () => {
    const p = new RewarmProgress(5000, true)
    for (let i = 1; i < 5000; i += 2) p.settle(i, 'done')
    const r = p.report()
    expect(r.cursor).toBe(0)
    expect(r.ahead).toHaveLength(1000)
    // A hotSet rewarm's keys are the client's own: counts only.
    // Resumed from it: what the report does not name is refetched, and counted once.
    const after = new RewarmProgress(5000, true)
    const left = after.resume(r)
    expect(after.report()).toMatchObject({ done: 1000, total: 5000 })
    for (let i = 0; i < 5000; i++) if (left(i)) after.settle(i, 'done')
    expect(after.report()).toEqual({ done: 5000, total: 5000, cursor: 5000 })
    expect(after.finished).toBe(true)
    const hot = new RewarmProgress(3, false)
    hot.settle(1, 'done')
    expect(hot.report()).toEqual({ done: 1, total: 3 })
  })
})

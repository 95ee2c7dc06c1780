/** A new client's config frame is signed once per config version, and again only when the log has moved on. */
import { describe, expect, it } from 'vitest'
import { ConfigFrames, stillFresh } from '../../src/coordinator/config-frame.js'

describe('config frames', () => {
  it('signs once per version and epoch, and again once the log moved on by half of what it holds', () => {
    const frames = new ConfigFrames()
    const signed: number[] = []
    const make = (seq: number) => {
      signed.push(seq)
      return `frame@${seq}`
    }
    const v1 = {}
    const at = (last: number, floor = 1000, epoch = 'e1') => ({ epoch, last, floor })
    expect(frames.frame(v1, at(1010), make)).toBe('frame@1010')
    // The log grew from 10 to 20 entries since: the frame's resume point is still in its newer half.
    expect(frames.frame(v1, at(1020), make)).toBe('frame@1010')
    expect(frames.frame(v1, at(1021), make)).toBe('frame@1021')
    expect(frames.frame({}, at(1021), make)).toBe('frame@1021')
    expect(frames.frame(v1, at(1021, 1000, 'e2'), make)).toBe('frame@1021')
    expect(signed).toEqual([1010, 1021, 1021, 1021])
    // Trimmed past the frame's seq: never handed out again.
    expect(stillFresh(1021, at(1030, 1022))).toBe(false)
  })
})

import { describe, expect, it } from 'vitest'
import { realClock } from '../../src/limiter/clock.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'

describe('VirtualClock', () => {
  it('runs due timers in time order, ties in the order set, each at its own time', () => {
    const clock = new VirtualClock(100)
    const seen: string[] = []
    clock.setTimer(50, () => seen.push(`b@${clock.now()}`))
    clock.setTimer(10, () => seen.push(`a@${clock.now()}`))
    clock.setTimer(50, () => seen.push(`c@${clock.now()}`))
    const cancelled = clock.setTimer(20, () => seen.push('never'))
    cancelled.cancel()
    clock.advance(49)
    expect(seen).toEqual(['a@110'])
    expect(clock.now()).toBe(149)
    clock.advance(1)
    expect(seen).toEqual(['a@110', 'b@150', 'c@150'])
    expect(clock.pending).toBe(0)
  })

  it('runs timers set by timers, including zero-delay ones, before moving on', () => {
    const clock = new VirtualClock()
    const seen: number[] = []
    clock.setTimer(5, () => {
      seen.push(clock.now())
      clock.setTimer(0, () => seen.push(clock.now()))
      clock.setTimer(3, () => seen.push(clock.now()))
    })
    clock.setTimer(7, () => seen.push(clock.now()))
    expect(clock.runAll()).toBe(4)
    expect(seen).toEqual([5, 5, 7, 8])
  })

  it('treats negative and NaN delays as now', () => {
    const clock = new VirtualClock(10)
    let ran = 0
    clock.setTimer(-5, () => ran++)
    clock.setTimer(Number.NaN, () => ran++)
    clock.advance(0)
    expect(ran).toBe(2)
    expect(clock.now()).toBe(10)
  })
})

describe('realClock', () => {
  it('reads a monotonic wall time and fires timers', async () => {
    const a = realClock.now()
    expect(Math.abs(a - Date.now())).toBeLessThan(1000)
    const fired = await new Promise<number>((resolve) =>
      realClock.setTimer(5, () => resolve(realClock.now())),
    )
    expect(fired).toBeGreaterThanOrEqual(a)
  })
})

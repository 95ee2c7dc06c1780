/**
 * The origin as the simulator sees it: it only counts fetches. Fetches are
 * recorded in time order; it keeps a per-second series for plots and the
 * exact peak over any 1 s window (sliding, not aligned to seconds).
 */
import { SlidingPeak } from '../limiter/window.js'

export class GrowableSeries {
  #data = new Float64Array(1024)
  #length = 0

  add(index: number, amount: number): void {
    if (index >= this.#data.length) {
      let size = this.#data.length
      while (size <= index) size *= 2
      const next = new Float64Array(size)
      next.set(this.#data)
      this.#data = next
    }
    this.#data[index] = this.#data[index]! + amount
    if (index >= this.#length) this.#length = index + 1
  }

  get length(): number {
    return this.#length
  }

  toArray(): Float64Array {
    return this.#data.slice(0, this.#length)
  }
}

export class Origin {
  readonly perSecond = new GrowableSeries()
  readonly #peak = new SlidingPeak(1000)
  #total = 0
  #first = Number.NaN
  #last = Number.NaN

  constructor(readonly startMs = 0) {}

  record(at: number, count: number): void {
    if (count <= 0) return
    this.#peak.add(at, count)
    this.perSecond.add(Math.floor((at - this.startMs) / 1000), count)
    this.#total += count
    if (Number.isNaN(this.#first)) this.#first = at
    this.#last = at
  }

  get peakPerSec(): number {
    return this.#peak.peak
  }

  get peakAt(): number {
    return this.#peak.peakAt
  }

  get total(): number {
    return this.#total
  }

  get lastAt(): number {
    return this.#last
  }
}

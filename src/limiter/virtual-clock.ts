/**
 * A clock that only moves when told to. Due timers run in time order (ties in
 * the order they were set), each seeing `now()` equal to its own due time, so
 * a run is a pure function of its inputs.
 */
import type { Clock, Timer } from '../model/clock.js'

interface Entry {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

const before = (a: Entry, b: Entry) => a.at < b.at || (a.at === b.at && a.seq < b.seq)

export class VirtualClock implements Clock {
  #now: number
  #seq = 0
  #heap: Entry[] = []

  constructor(start = 0) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    // NaN and negative delays both mean now.
    const delay = Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs)
    const entry: Entry = { at: this.#now + delay, seq: this.#seq++, fn, cancelled: false }
    this.#push(entry)
    return {
      cancel: () => {
        entry.cancelled = true
      },
    }
  }

  /** Timers set and not yet run or cancelled. */
  get pending(): number {
    let n = 0
    for (const e of this.#heap) if (!e.cancelled) n++
    return n
  }

  /** Due time of the next live timer, or undefined. */
  nextAt(): number | undefined {
    this.#dropCancelled()
    return this.#heap[0]?.at
  }

  /** Move time forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): void {
    this.advanceTo(this.#now + Math.max(0, ms))
  }

  advanceTo(t: number): void {
    for (;;) {
      this.#dropCancelled()
      const top = this.#heap[0]
      if (!top || top.at > t) break
      this.#pop()
      if (top.at > this.#now) this.#now = top.at
      top.fn()
    }
    if (t > this.#now) this.#now = t
  }

  /** Run the next timer (moving time to it). Returns false when none is left. */
  runNext(): boolean {
    this.#dropCancelled()
    const top = this.#heap[0]
    if (!top) return false
    this.#pop()
    if (top.at > this.#now) this.#now = top.at
    top.fn()
    return true
  }

  /**
   * Run timers until none is left, or `limit` timers ran, or the next one is
   * after `until`. Returns the number run.
   */
  runAll({ limit = Number.POSITIVE_INFINITY, until = Number.POSITIVE_INFINITY } = {}): number {
    let ran = 0
    while (ran < limit) {
      const at = this.nextAt()
      if (at === undefined || at > until) break
      this.runNext()
      ran++
    }
    return ran
  }

  #dropCancelled(): void {
    while (this.#heap[0]?.cancelled) this.#pop()
  }

  #push(entry: Entry): void {
    const heap = this.#heap
    heap.push(entry)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(entry, heap[parent]!)) break
      heap[i] = heap[parent]!
      i = parent
    }
    heap[i] = entry
  }

  #pop(): void {
    const heap = this.#heap
    const last = heap.pop()!
    if (heap.length === 0) return
    let i = 0
    const n = heap.length
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && before(heap[r]!, heap[l]!) ? r : l
      if (!before(heap[c]!, last)) break
      heap[i] = heap[c]!
      i = c
    }
    heap[i] = last
  }
}

/**
 * Exact peak of a sliding window sum over events fed in time order:
 * max over t of the summed amounts in [t, t + windowMs). Used to check the
 * bounds (B1, B2, A) and to report peaks; O(1) amortized per event.
 */
export class SlidingPeak {
  #times: number[] = []
  #amounts: number[] = []
  #head = 0
  #sum = 0
  #peak = 0
  #peakAt = Number.NaN
  #last = Number.NEGATIVE_INFINITY

  constructor(readonly windowMs = 1000) {}

  add(at: number, amount: number): void {
    if (at < this.#last) throw new RangeError(`SlidingPeak: event at ${at} before ${this.#last}`)
    this.#last = at
    this.#times.push(at)
    this.#amounts.push(amount)
    this.#sum += amount
    const from = at - this.windowMs
    while (this.#times[this.#head]! <= from) {
      this.#sum -= this.#amounts[this.#head]!
      this.#head++
    }
    if (this.#head > 4096 && this.#head * 2 > this.#times.length) {
      this.#times = this.#times.slice(this.#head)
      this.#amounts = this.#amounts.slice(this.#head)
      this.#head = 0
    }
    if (this.#sum > this.#peak) {
      this.#peak = this.#sum
      this.#peakAt = this.#times[this.#head]!
    }
  }

  /** The largest sum seen in any window. */
  get peak(): number {
    return this.#peak
  }

  /** Start of a window that reaches the peak (NaN before any event). */
  get peakAt(): number {
    return this.#peakAt
  }
}

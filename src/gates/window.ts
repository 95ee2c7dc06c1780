/**
 * A rolling window of samples per metric, kept as one set of moments per
 * bucket: what the fleet's figures were over the last `windowMs`. A rollout
 * takes it as its baseline when it starts.
 */
import { addSample, EMPTY, type Moments, mergeMoments } from './moments.js'

export class SampleWindow {
  readonly #buckets = new Map<string, Array<{ start: number; moments: Moments }>>()

  constructor(
    readonly windowMs: number,
    readonly bucketMs = 1_000,
  ) {}

  add(samples: Readonly<Record<string, number>>, at: number): void {
    const start = Math.floor(at / this.bucketMs) * this.bucketMs
    for (const [metric, x] of Object.entries(samples)) {
      const list = this.#buckets.get(metric) ?? []
      this.#buckets.set(metric, list)
      const last = list[list.length - 1]
      // A sample older than the newest bucket (replicas' clocks differ) goes into the newest.
      if (last && last.start >= start) last.moments = addSample(last.moments, x)
      else list.push({ start, moments: addSample(EMPTY, x) })
      this.#trim(list, at)
    }
  }

  /** Each metric's moments over the window ending at `now`. */
  snapshot(now: number): Record<string, Moments> {
    const out: Record<string, Moments> = {}
    for (const [metric, list] of this.#buckets) {
      this.#trim(list, now)
      const m = list.reduce((acc, b) => mergeMoments(acc, b.moments), EMPTY)
      if (m.n > 0) out[metric] = m
    }
    return out
  }

  #trim(list: Array<{ start: number }>, now: number): void {
    const from = now - this.windowMs
    let drop = 0
    while (drop < list.length && list[drop]!.start + this.bucketMs <= from) drop++
    if (drop > 0) list.splice(0, drop)
  }
}

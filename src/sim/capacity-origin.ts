/**
 * An origin with finite capacity, for the rewarm and metastable scenarios:
 * it serves at most `capacity` fetches per second, first come first served;
 * the rest wait in its queue, so latency is the service time (with noise)
 * plus the wait. A fetch that waited past the caller's timeout is still
 * served — the work is done — but the caller has given up: it counts as a
 * failure. That is what makes overload stick (metastability).
 */
import type { Clock, Timer } from '../limiter/clock.js'

export interface CapacityOriginOptions {
  /** Fetches per second it can serve. */
  readonly capacity: number
  /** Service time, ms. */
  readonly baseLatencyMs: number
  /** Relative spread of the service time (normal, clamped at 0). */
  readonly noise: number
  /** The latency target: time with the wait over it is counted. */
  readonly targetLatencyMs: number
  /** Callers give up after this long, ms. @default none */
  readonly timeoutMs?: number
  /** How often the queue is served, ms. @default 10 */
  readonly tickMs?: number
  readonly random: () => number
}

type Done = (ok: number, failed: number, latencyMs: number) => void

interface Waiting {
  readonly at: number
  count: number
  readonly done: Done
}

export interface IntervalStats {
  readonly p50?: number
  readonly p99?: number
  readonly errorRate?: number
  readonly completed: number
}

export class CapacityOrigin {
  readonly #queue: Waiting[] = []
  #head = 0
  #queued = 0
  #timer: Timer | undefined
  #credit = 0
  #lastTick: number
  #overTargetMs = 0
  #samples: [number, number][] = []
  #ok = 0
  #failed = 0
  #servedTotal = 0
  readonly #latency: number[] = []
  readonly #tick: number

  constructor(
    private readonly clock: Clock,
    readonly opts: CapacityOriginOptions,
  ) {
    this.#tick = opts.tickMs ?? 10
    this.#lastTick = clock.now()
  }

  /** Fetches waiting. */
  get queued(): number {
    return this.#queued
  }

  /** Time so far with a new fetch's expected latency over the target, ms. */
  get overTargetMs(): number {
    return this.#overTargetMs
  }

  get served(): number {
    return this.#servedTotal
  }

  /** Per second: the worst latency a fetch arriving then would have seen (service time + wait), ms. */
  latencyPerSecond(): number[] {
    return Array.from(this.#latency, (v) => v ?? 0)
  }

  /** The latency a fetch arriving now would see (without noise), ms. */
  expectedLatency(): number {
    return this.opts.baseLatencyMs + (this.#queued / this.opts.capacity) * 1000
  }

  request(count: number, done: Done): void {
    if (count <= 0) return
    this.#queue.push({ at: this.clock.now(), count, done })
    this.#queued += count
    if (!this.#timer) {
      this.#lastTick = this.clock.now()
      this.#credit = Math.max(this.#credit, 0)
      this.#timer = this.clock.setTimer(0, () => this.#serve())
    }
  }

  /** p99 latency and error rate of what completed since the last call. */
  takeStats(): IntervalStats {
    const s = this.#samples
    this.#samples = []
    const total = this.#ok + this.#failed
    const out: IntervalStats = {
      completed: total,
      ...(total > 0 && {
        errorRate: this.#failed / total,
        p50: percentile(s, 0.5),
        p99: percentile(s, 0.99),
      }),
    }
    this.#ok = 0
    this.#failed = 0
    return out
  }

  #serve(): void {
    const now = this.clock.now()
    const dt = now - this.#lastTick
    this.#lastTick = now
    const expected = this.expectedLatency()
    if (expected > this.opts.targetLatencyMs) this.#overTargetMs += dt
    const sec = Math.floor(now / 1000)
    this.#latency[sec] = Math.max(this.#latency[sec] ?? 0, expected)
    // Credit for at most two ticks (and at least one whole fetch, or a slow origin never serves).
    const cap = Math.max(1, this.opts.capacity * (this.#tick / 1000) * 2)
    this.#credit = Math.min(this.#credit + (dt / 1000) * this.opts.capacity, cap)
    while (this.#credit >= 1 && this.#head < this.#queue.length) {
      const w = this.#queue[this.#head]!
      const n = Math.min(w.count, Math.floor(this.#credit))
      this.#credit -= n
      w.count -= n
      this.#queued -= n
      this.#servedTotal += n
      // Each fetch has its own service time: a chunk is sampled at up to 8 points.
      const k = Math.min(n, 8)
      let latency = 0
      for (let j = 0; j < k; j++) {
        const l = Math.max(
          0,
          now - w.at + this.opts.baseLatencyMs * (1 + this.opts.noise * gaussian(this.opts.random)),
        )
        this.#samples.push([l, n / k])
        latency += l / k
      }
      const late = this.opts.timeoutMs !== undefined && latency > this.opts.timeoutMs
      if (late) this.#failed += n
      else this.#ok += n
      // The answer arrives after the service time; the caller sees it then.
      this.clock.setTimer(this.opts.baseLatencyMs, () =>
        w.done(late ? 0 : n, late ? n : 0, latency),
      )
      if (w.count === 0) this.#head++
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head)
      this.#head = 0
    }
    this.#timer =
      this.#head < this.#queue.length
        ? this.clock.setTimer(this.#tick, () => this.#serve())
        : undefined
  }
}

/** Standard normal from two uniforms (Box-Muller). */
const gaussian = (random: () => number): number => {
  const u = 1 - random()
  const v = random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

const percentile = (samples: [number, number][], q: number): number => {
  samples.sort((a, b) => a[0] - b[0])
  let total = 0
  for (const [, w] of samples) total += w
  let acc = 0
  for (const [v, w] of samples) {
    acc += w
    if (acc >= q * total) return v
  }
  return samples.at(-1)?.[0] ?? 0
}

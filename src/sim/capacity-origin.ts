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
  /** Share of fetches that fail whatever the load (bad keys, a flaky replica). @default 0 */
  readonly baseErrors?: number
  /** How often the queue is served, ms. @default 10 */
  readonly tickMs?: number
  readonly random: () => number
}

/**
 * The answer to one request: fetches served and failed (the caller had given
 * up), and each fetch's latency as its caller saw it, ms: the `ok` served
 * first, then the failed (the timeout: when the caller gave up).
 */
type Done = (ok: number, failed: number, latenciesMs: readonly number[]) => void

interface Waiting {
  readonly at: number
  count: number
  readonly done: Done
}

export class CapacityOrigin {
  readonly #queue: Waiting[] = []
  #head = 0
  #queued = 0
  #timer: Timer | undefined
  #credit = 0
  #lastTick: number
  #overTargetMs = 0
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
      // Each fetch has its own service time; one whose wait and service took longer than the
      // caller's timeout failed (the caller gave up then): the work is done, the answer is lost.
      const served: number[] = []
      // Failed: the caller gave up, or the origin answered with an error.
      const late: number[] = []
      const base = this.opts.baseErrors ?? 0
      for (let j = 0; j < n; j++) {
        const l = Math.max(
          0,
          now - w.at + this.opts.baseLatencyMs * (1 + this.opts.noise * gaussian(this.opts.random)),
        )
        if (this.opts.timeoutMs !== undefined && l > this.opts.timeoutMs)
          late.push(this.opts.timeoutMs)
        else if (base > 0 && this.opts.random() < base) late.push(l)
        else served.push(l)
      }
      // The answer arrives after the service time; the caller sees it then.
      this.clock.setTimer(this.opts.baseLatencyMs, () =>
        w.done(served.length, late.length, served.concat(late)),
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

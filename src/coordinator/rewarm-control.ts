/**
 * The coordinator's control loop for rewarm: every interval, the origin's
 * latency and errors as the fleet's heartbeats report them set the rewarm
 * token rate (AIMD), never above the rewarm budget. Clients refetch only
 * under those tokens, so the fleet's rewarm runs at what the origin bears.
 */
import type { Config } from '../config/schema.js'
import type { Clock, Timer } from '../model/clock.js'
import { AimdRate, aimdSchema } from '../warmup/aimd.js'
import type { FleetTracker } from './fleet.js'

export class RewarmControl {
  #aimd: AimdRate
  #timer: Timer | undefined
  #granted = 0
  #settings: string
  /** The fleet's heartbeat count at the last control step: each heartbeat counts in one step only. */
  #seen = 0

  constructor(
    private readonly o: {
      readonly config: () => Config
      readonly fleet: FleetTracker
      /** Apply a new rewarm token rate; returns the rate in force. */
      readonly setRate: (ratePerSec: number) => void
      readonly now: () => number
      /** Where the loop's timer runs (the simulator's virtual clock). @default Node's timers (unref'd) */
      readonly clock?: Pick<Clock, 'setTimer'>
      /** Run the loop here (the leader, on Redis)? @default always */
      readonly active?: () => boolean
      /**
       * Whether this process sees every rewarm grant (one coordinator). With
       * several, grants happen on every replica: the rate then grows whenever
       * the fleet reports calls. @default true
       */
      readonly seesAllGrants?: boolean
      /** What the loop saw and set, each interval (for metrics). */
      readonly observe?: (
        health: { p50?: number; p99?: number; errorRate?: number; samples: number },
        rate: number,
      ) => void
    },
  ) {
    this.#aimd = this.#make()
    this.#settings = this.#key()
  }

  /** The rate in force, tokens per second. */
  get rate(): number {
    return this.#aimd.rate
  }

  /** Tokens granted for rewarm (the rate grows only while it is used). */
  granted(n: number): void {
    this.#granted += n
  }

  start(): void {
    this.o.setRate(this.#aimd.rate)
    this.#arm()
  }

  stop(): void {
    this.#timer?.cancel()
    this.#timer = undefined
  }

  tick(): number {
    const c = this.o.config()
    // A config change (PUT /v1/config) starts the controller over from its new settings.
    if (this.#key() !== this.#settings) {
      this.#settings = this.#key()
      this.#aimd = this.#make()
    }
    this.#aimd.ceiling = c.budgets.rewarm.ratePerSec
    const interval = c.rewarm.intervalMs
    // What came since the last step (and none older than two intervals: a new leader's first step).
    const health = this.o.fleet.originHealth(this.o.now() - 2 * interval, this.#seen)
    this.#seen = this.o.fleet.beats
    const allowed = (this.#aimd.rate * interval) / 1000
    const used = this.o.seesAllGrants === false ? 1 : allowed > 0 ? this.#granted / allowed : 0
    const rate = this.#aimd.update({ ...health, used })
    this.#granted = 0
    this.o.setRate(rate)
    this.o.observe?.(health, rate)
    return rate
  }

  #arm(): void {
    const step = () => {
      if (this.o.active?.() ?? true) this.tick()
      this.#arm()
    }
    const delay = this.o.config().rewarm.intervalMs
    if (this.o.clock) {
      this.#timer = this.o.clock.setTimer(delay, step)
      return
    }
    const t = setTimeout(step, delay)
    t.unref()
    this.#timer = { cancel: () => clearTimeout(t) }
  }

  #make(): AimdRate {
    const c = this.o.config()
    // The AIMD's own options, of the rewarm section's (which holds more).
    const aimd = Object.fromEntries(
      Object.keys(aimdSchema.shape).map((k) => [k, c.rewarm[k as keyof typeof c.rewarm]]),
    )
    return new AimdRate(c.budgets.rewarm.ratePerSec, aimd)
  }

  #key(): string {
    const c = this.o.config()
    return JSON.stringify([c.rewarm, c.budgets.rewarm])
  }
}

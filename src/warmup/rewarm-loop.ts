/**
 * The rewarm control loop: every interval, the origin's latency and errors as
 * the fleet's heartbeats report them set the rewarm token rate (AIMD), never
 * above the rewarm budget. Clients refetch only under those tokens, so the
 * fleet's rewarm runs at what the origin bears. The coordinator runs it
 * online, the simulator on its virtual clock: the same loop.
 */
import type { Clock, Timer } from '../limiter/clock.js'
import type { GcraParams } from '../limiter/gcra.js'
import { type AimdOptions, AimdRate, aimdSchema } from './aimd.js'
import type { FleetHealth, OriginHealthFigures } from './fleet-health.js'

export interface RewarmLoopOptions {
  /** The `rewarm` config section, read live: a change starts the controller over. */
  readonly rewarm: () => AimdOptions
  /** The rewarm budget, read live: its rate is the ceiling. */
  readonly budget: () => GcraParams
  /** The fleet's heartbeats. */
  readonly fleet: Pick<FleetHealth, 'originHealth' | 'beats'>
  /** Apply a new rewarm token rate. */
  readonly setRate: (ratePerSec: number) => void
  readonly now: () => number
  /** Where the loop's timer runs (the simulator's virtual clock). @default Node's timers (unref'd) */
  readonly timers?: Pick<Clock, 'setTimer'>
  /** Run the loop here (the leader, on Redis)? @default always */
  readonly active?: () => boolean
  /**
   * Whether this process sees every rewarm grant (one coordinator). With
   * several, grants happen on every replica: the rate then grows whenever
   * the fleet reports calls. @default true
   */
  readonly seesAllGrants?: boolean
  /** What the loop saw and set, each interval (for metrics). */
  readonly observe?: (health: OriginHealthFigures, rate: number) => void
}

export interface RewarmLoop {
  /** The rate in force, tokens per second. */
  readonly rate: number
  /** Tokens granted for rewarm (the rate grows only while it is used). */
  granted(n: number): void
  start(): void
  stop(): void
  /** One control step now; returns the rate it set. */
  tick(): number
}

export const createRewarmLoop = (o: RewarmLoopOptions): RewarmLoop => {
  const make = (): AimdRate => {
    const rewarm = o.rewarm()
    // The AIMD's own options, of the rewarm section's (which may hold more).
    const aimd = Object.fromEntries(
      Object.keys(aimdSchema.shape).map((k) => [k, rewarm[k as keyof AimdOptions]]),
    )
    return new AimdRate(o.budget().ratePerSec, aimd)
  }
  const key = () => JSON.stringify([o.rewarm(), o.budget()])
  let aimd = make()
  let settings = key()
  let timer: Timer | undefined
  let granted = 0
  /** The fleet's heartbeat count at the last control step: each heartbeat counts in one step only. */
  let seen = 0

  const tick = (): number => {
    // A config change (PUT /v1/config) starts the controller over from its new settings.
    if (key() !== settings) {
      settings = key()
      aimd = make()
    }
    aimd.ceiling = o.budget().ratePerSec
    const interval = o.rewarm().intervalMs
    // What came since the last step (and none older than two intervals: a new leader's first step).
    const health = o.fleet.originHealth(o.now() - 2 * interval, seen, o.now())
    seen = o.fleet.beats
    const allowed = (aimd.rate * interval) / 1000
    const used = o.seesAllGrants === false ? 1 : allowed > 0 ? granted / allowed : 0
    const rate = aimd.update({ ...health, used })
    granted = 0
    o.setRate(rate)
    o.observe?.(health, rate)
    return rate
  }

  const arm = (): void => {
    const step = () => {
      if (o.active?.() ?? true) tick()
      arm()
    }
    const delay = o.rewarm().intervalMs
    if (o.timers) {
      timer = o.timers.setTimer(delay, step)
      return
    }
    const t = setTimeout(step, delay)
    t.unref()
    timer = { cancel: () => clearTimeout(t) }
  }

  return {
    get rate() {
      return aimd.rate
    },
    granted(n) {
      granted += n
    },
    start() {
      o.setRate(aimd.rate)
      arm()
    },
    stop() {
      timer?.cancel()
      timer = undefined
    },
    tick,
  }
}

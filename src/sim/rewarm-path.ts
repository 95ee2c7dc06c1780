/**
 * The coordinator's rewarm control path on the virtual clock, shared by the
 * rewarm and metastable scenarios: simulated clients' origin figures and
 * heartbeats feeding the same rewarm loop the coordinator runs.
 */
import type { Engine } from '../invalidation/engine.js'
import type { VirtualClock } from '../limiter/virtual-clock.js'
import { FleetHealth } from '../warmup/fleet-health.js'
import { OriginStats } from '../warmup/origin-stats.js'
import { createRewarmLoop } from '../warmup/rewarm-loop.js'
import { REWARM_HEARTBEAT_MS, rewarmSchema } from '../warmup/rewarm-options.js'
import { clientId } from './fleet.js'
import { mulberry32 } from './rng.js'

/** How often a client heartbeats while a rewarm runs: the SDK's `rewarmHeartbeatMs` default. */
const HEARTBEAT_MS = REWARM_HEARTBEAT_MS

/**
 * The coordinator's rewarm control path on a virtual clock, as a live one runs
 * it: every client measures its own origin calls (`OriginStats`) and
 * heartbeats them every second (each from its own moment); each heartbeat is
 * taken as the coordinator's memory runtime takes it (the engine learns the
 * cache size, the fleet's health the origin figures); the rewarm loop sets the
 * engine's rewarm token rate from them every `rewarm.intervalMs`; and leases
 * tell it what was granted, as the lease route does.
 */
export const rewarmControlPath = (o: {
  readonly clock: VirtualClock
  readonly engine: Engine
  /** The origin's latency target, ms (`rewarm.targetLatencyMs`). */
  readonly target: number
  readonly clients: number
  readonly seed: number
  /** Client i's cache, as its heartbeat reports it. */
  readonly cache: (i: number) => { entries: number; capacity: number }
}) => {
  // The coordinator's defaults for the rewarm section, but for the origin's latency target.
  const rewarm = rewarmSchema.parse({ targetLatencyMs: o.target })
  const budget = o.engine.config.budgets.rewarm
  const fleet = new FleetHealth()
  const stats = Array.from({ length: o.clients }, () => new OriginStats())
  const rates: number[] = []
  const control = createRewarmLoop({
    rewarm: () => rewarm,
    budget: () => budget,
    fleet,
    setRate: (rate) => o.engine.setTokenRate('rewarm', rate),
    now: () => o.clock.now(),
    timers: o.clock,
    observe: (_, rate) => rates.push(rate),
  })
  control.start()
  const random = mulberry32(o.seed ^ 0xbea7)
  const start = o.clock.now()
  const timers = Array.from({ length: o.clients }, (_, i) => {
    const id = clientId(i)
    let last = start
    const beat = () => {
      const { entries, capacity } = o.cache(i)
      o.engine.report(id, entries, capacity)
      // The interval the figures cover, as the SDK's heartbeats say.
      const intervalMs = Math.max(1, Math.round(o.clock.now() - last))
      last = o.clock.now()
      fleet.heartbeat(id, { ...stats[i]!.take(), intervalMs }, o.clock.now())
      timers[i] = o.clock.setTimer(HEARTBEAT_MS, beat)
    }
    return o.clock.setTimer(random() * HEARTBEAT_MS, beat)
  })
  return {
    /** The rate each control step set. */
    rates,
    /** Client i leases rewarm tokens. */
    lease: (i: number, want: number) => {
      const g = o.engine.lease(clientId(i), want, 'rewarm')
      control.granted(g.granted)
      return g
    },
    /** Client i's origin calls answered: each one's latency, the `ok` served first. */
    observe: (i: number, ok: number, latencies: readonly number[]) => {
      for (let j = 0; j < latencies.length; j++) stats[i]!.observe(latencies[j]!, j < ok)
    },
    /** The run is over: no more heartbeats nor control steps. */
    stop: () => {
      control.stop()
      for (const t of timers) t.cancel()
    },
  }
}

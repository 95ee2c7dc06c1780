/**
 * The coordinator's rewarm loop (warmup/rewarm-loop.ts) on its runtime: it
 * runs where the engine does (the leader, on Redis), sets the runtime's
 * rewarm token rate, and shows what it saw and set as metrics.
 */
import type { Config } from '../config/schema.js'
import type { Clock } from '../limiter/clock.js'
import type { OriginHealthFigures } from '../warmup/fleet-health.js'
import { createRewarmLoop, type RewarmLoop } from '../warmup/rewarm-loop.js'
import type { FleetTracker } from './fleet.js'
import type { Metrics } from './metrics.js'
import type { Runtime } from './runtime.js'

export const coordinatorRewarmLoop = (o: {
  readonly runtime: Runtime
  readonly current: () => Config
  readonly fleet: FleetTracker
  readonly clock: Clock
  readonly metrics: Metrics
}): RewarmLoop =>
  createRewarmLoop({
    rewarm: () => o.current().rewarm,
    budget: () => o.current().budgets.rewarm,
    fleet: o.fleet,
    setRate: (rate) => o.runtime.setRewarmRate(rate),
    now: () => o.clock.now(),
    active: () => o.runtime.leading,
    seesAllGrants: o.runtime.kind === 'memory',
    observe: observeRewarm(o.metrics),
  })

/** What the rewarm loop saw and set, each interval, as gauges. */
const observeRewarm =
  (metrics: Metrics) =>
  (health: OriginHealthFigures, rate: number): void => {
    metrics.rewarmRate.set(rate)
    if (health.p50 !== undefined) metrics.originLatency.set({ quantile: '0.5' }, health.p50 / 1000)
    if (health.p99 !== undefined) metrics.originLatency.set({ quantile: '0.99' }, health.p99 / 1000)
    if (health.errorRate !== undefined) metrics.originErrors.set(health.errorRate)
  }

/**
 * `slew/engine`: the pure, clock-injected core — budgets, waves, rollouts,
 * the client refresh policy — with no HTTP, Redis or SDK in it.
 */

export {
  type BudgetClass,
  budgetClasses,
  type Change,
  type ChangeInput,
  deliveryCost,
  parseChange,
  type Target,
} from './invalidation/change.js'
export {
  Engine,
  type EngineEvent,
  type EngineOptions,
  type GateContext,
  type GateResult,
  type LeaseGrant,
  type SubmitResult,
} from './invalidation/engine.js'
export {
  type EngineConfig,
  type EngineConfigInput,
  parseEngineConfig,
} from './invalidation/options.js'
export type { Delivery } from './invalidation/pacer.js'
export { type Plan, type PlanFleet, planChange } from './invalidation/plan.js'
export { planWaves, type WaveRange } from './invalidation/planner.js'
export type { RolloutView } from './invalidation/rollout.js'
export { fnv1a32, shardOf } from './invalidation/shard.js'
export type { EngineSnapshot } from './invalidation/snapshot.js'
export { canTransition, type RolloutState, rolloutStates } from './invalidation/states.js'
export { Bucket, type BudgetOptions } from './limiter/bucket.js'
export { type Clock, realClock, type Timer } from './limiter/clock.js'
export { type GcraParams, gcraAvailable, gcraGrant, gcraReserve, gcraTake } from './limiter/gcra.js'
export { VirtualClock } from './limiter/virtual-clock.js'
export { SlidingPeak } from './limiter/window.js'
export { RefreshDriver, type RefreshDriverOptions } from './refresh/driver.js'
export * from './refresh/entry.js'
export { matchesTarget } from './refresh/match.js'
export { type RefreshReason, refreshPriority } from './refresh/priority.js'
export { TokenWallet } from './refresh/wallet.js'

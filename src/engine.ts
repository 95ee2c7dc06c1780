/**
 * `slew-rate/engine`: the pure, clock-injected core — budgets, waves,
 * rollouts — with no HTTP, Redis or SDK in it: what the coordinator and the
 * simulator run, to drive on a virtual clock or embed.
 */

export { type ChangeInput, parseChange } from './invalidation/change.js'
export {
  Engine,
  type EngineEvent,
  type EngineOptions,
  type GateContext,
  type GateResult,
  type LeaseGrant,
  type SubmitResult,
} from './invalidation/engine.js'
export type { EngineConfig, EngineConfigInput } from './invalidation/options.js'
export type { Delivery } from './invalidation/pacer.js'
export { type Plan, type PlanFleet, planChange } from './invalidation/plan.js'
export type { RolloutView } from './invalidation/rollout.js'
export { shardOf } from './invalidation/shard.js'
export type { EngineSnapshot } from './invalidation/snapshot.js'
export { type RolloutState, rolloutStates } from './invalidation/states.js'
export { realClock } from './limiter/clock.js'
export { VirtualClock } from './limiter/virtual-clock.js'
export { type BudgetClass, budgetClasses } from './model/budget.js'
export type { Change, Target } from './model/change.js'
export type { Clock, Timer } from './model/clock.js'

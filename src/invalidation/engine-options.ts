/** What an Engine is built from, and what its submit and lease answer. */
import type { Clock } from '../model/clock.js'
import type { EngineEvent, GateContext, GateResult } from './events.js'
import type { EngineConfigInput } from './options.js'
import type { Delivery } from './pacer.js'
import type { RolloutView } from './rollout.js'
import type { EngineSnapshot } from './snapshot.js'

export interface EngineOptions {
  readonly clock: Clock
  readonly config?: EngineConfigInput
  /** Called once per batch of clients that got a change at one instant. */
  readonly deliver?: (delivery: Delivery) => void
  readonly onEvent?: (event: EngineEvent) => void
  /** Health gate after each wave's bake; default: always pass. */
  readonly gate?: (ctx: GateContext) => GateResult
  /** Resume from this state instead of starting empty. */
  readonly snapshot?: EngineSnapshot
  /**
   * The lineage of state this engine continues (see ids.ts): change ids are
   * `chg-<epoch>-<seq>`, unique for good. A snapshot brings its own. @default
   * none: ids are `chg-<seq>` (the simulator, a plan)
   */
  readonly epoch?: string
  /**
   * Starting without the state of the one before (a coordinator restarted
   * cold): budgets with no saved state start empty, not full. @default false
   */
  readonly coldStart?: boolean
}

export interface SubmitResult {
  readonly rollout: RolloutView
  /** How a duplicate push was folded into an existing rollout, if it was. */
  readonly coalesced: false | 'idempotencyKey' | 'target'
}

export interface LeaseGrant {
  readonly granted: number
  readonly ttlMs: number
  readonly retryAfterMs: number
}

export interface RollbackOptions {
  /** Under the `urgent` budget rather than the change's own. @default false */
  readonly urgent?: boolean
}

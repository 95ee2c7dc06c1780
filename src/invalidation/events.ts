/** What the engine reports as it works, and what its health gate answers. */
import type { RolloutView } from './rollout.js'
import type { RolloutState } from './states.js'

export type GateResult = 'pass' | 'fail' | { retryInMs: number }

export interface GateContext {
  readonly rollout: RolloutView
  /** The wave that just baked. */
  readonly wave: number
  readonly now: number
}

export type EngineEvent =
  | {
      type: 'state'
      rolloutId: string
      from: RolloutState
      to: RolloutState
      at: number
      reason?: string
    }
  | { type: 'wave'; rolloutId: string; wave: number; phase: 'started' | 'delivered'; at: number }
  | { type: 'coalesced'; rolloutId: string; by: 'idempotencyKey' | 'target'; at: number }
  /** A later config change (`by`) took over `keys` of this config rollout (see Rollout.supersede). */
  | { type: 'superseded'; rolloutId: string; by: string; keys: readonly string[]; at: number }

/**
 * The rollout state machine:
 *   planned → rolling ⇄ paused → completed / aborted / rolled_back / failed
 * A rollback moves a config change to rolling_back while the rollback runs,
 * then to rolled_back when it completes (failed if it cannot).
 * Only the transitions listed here are legal; any other raises
 * E_ILLEGAL_TRANSITION and changes nothing.
 */
import { IllegalTransitionError } from '../errors.js'

export const rolloutStates = [
  'planned',
  'rolling',
  'paused',
  'completed',
  'aborted',
  'rolling_back',
  'rolled_back',
  'failed',
] as const
export type RolloutState = (typeof rolloutStates)[number]

const legal: Readonly<Record<RolloutState, readonly RolloutState[]>> = Object.freeze({
  planned: ['rolling', 'paused', 'aborted'],
  rolling: ['paused', 'completed', 'aborted', 'rolling_back', 'failed'],
  paused: ['rolling', 'aborted', 'rolling_back', 'failed'],
  // A completed config change can still be rolled back (in waves, like any change).
  completed: ['rolling_back'],
  // Its rollback runs: done when that completes; failed if that is aborted or fails.
  rolling_back: ['rolled_back', 'failed'],
  aborted: [],
  rolled_back: [],
  failed: [],
})

export const canTransition = (from: RolloutState, to: RolloutState): boolean =>
  legal[from].includes(to)

export const isTerminal = (s: RolloutState): boolean => legal[s].length === 0 || s === 'completed'

/** Active: still delivering or able to deliver again. */
export const isActive = (s: RolloutState): boolean =>
  s === 'planned' || s === 'rolling' || s === 'paused'

export const assertTransition = (id: string, from: RolloutState, to: RolloutState): void => {
  if (!canTransition(from, to)) throw new IllegalTransitionError(id, from, to)
}

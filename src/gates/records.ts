/**
 * What a rollout's gate saw and did (its record: kept on the rollout, shown
 * by the API and `slew status`) and, once it ended, its final state (what a
 * new leader restores). Every watched gate's record is here, and those of
 * the last MAX_RECORDS ended gates, the oldest going first.
 */
import type { CheckEvidence, CheckSpec, Verdict } from './check.js'
import type { GateTallies } from './cohorts.js'
import type { Moments } from './moments.js'

/** Records of ended gates kept for the API (beside those still watching). */
const MAX_RECORDS = 1000

/** The kinds of change a gate watches. */
export type GateKind = 'invalidate' | 'rewarm' | 'config'

export type GateMode = 'cohort' | 'baseline' | 'watch-after'

/** What a rollout's gate saw and did: kept on the rollout, shown by the API and `slew status`. */
export interface GateRecord {
  readonly mode: GateMode
  readonly verdict: Verdict
  readonly checks: readonly CheckEvidence[]
  /** Each change of verdict, oldest first (at most MAX_HISTORY, watcher.ts). */
  readonly history: readonly { readonly verdict: Verdict; readonly at: number }[]
  /** What the gate did, if anything. */
  readonly action?: {
    readonly kind: 'rollback' | 'pause'
    readonly reason: string
    readonly at: number
  }
  /** Watched until (watch after completion). */
  readonly until?: number
}

/**
 * One rollout's gate as the store keeps it (JSON): enough for a new leader
 * to go on with the same statistic, its evidence and its watch after.
 */
export interface GateState {
  readonly v: 1
  readonly kind: GateKind
  readonly mode: GateMode
  readonly checks: readonly CheckSpec[]
  readonly baseline: Readonly<Record<string, Moments>>
  readonly record: GateRecord
  readonly tallies: GateTallies
  readonly asked?: { readonly wave: number; readonly at: number }
  readonly until?: number
  /** The gate ended (acted, or its rollout did): its record is kept, nothing watched. */
  readonly done: boolean
}

export class GateRecords {
  readonly #records = new Map<string, GateRecord>()
  /** Ended gates, as GateWatcher.stateOf gives them (their record, nothing watched). */
  readonly #ended = new Map<string, GateState>()

  get(rolloutId: string): GateRecord | undefined {
    return this.#records.get(rolloutId)
  }

  /** An ended gate's state, while its record is kept. */
  ended(rolloutId: string): GateState | undefined {
    return this.#records.has(rolloutId) ? this.#ended.get(rolloutId) : undefined
  }

  set(rolloutId: string, record: GateRecord): void {
    this.#records.set(rolloutId, record)
  }

  /** The gate ended in `state` (done): its record is the state's. */
  end(rolloutId: string, state: GateState): void {
    this.#ended.set(rolloutId, state)
    this.#records.set(rolloutId, state.record)
  }

  /** Keep the records of at most MAX_RECORDS ended gates (oldest go first); watched ones stay. */
  trim(watched: ReadonlyMap<string, unknown>): void {
    let over = this.#records.size - watched.size - MAX_RECORDS
    for (const id of this.#records.keys()) {
      if (over <= 0) break
      if (watched.has(id)) continue
      this.#records.delete(id)
      this.#ended.delete(id)
      over--
    }
  }
}

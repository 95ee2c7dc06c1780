/**
 * One rollout's bookkeeping: its state, the wave it is on, who has it, who
 * is still queued. The engine moves it; this file only holds and reports.
 */

import type { ChangeGate } from '../gates/options.js'
import type { BudgetClass } from '../model/budget.js'
import type { Change } from '../model/change.js'
import type { Timer } from '../model/clock.js'
import { Fifo } from './fifo.js'
import type { WaveRange } from './planner.js'
import type { RolloutState } from './states.js'

export type Phase = 'delivering' | 'baking' | 'done'

export interface WaveStats {
  /** Clients queued for this wave when it started (catch-ups are counted as they join). */
  queued: number
  /** Clients of the wave that got no frame: their fresh key sketch holds none of its keys. */
  skipped?: number
  delivered: number
  cost: number
  startedAt: number
  /** When the last queued client of the wave got the change. */
  deliveredAt?: number
}

/** A rollout as reported (JSON-safe, a copy). */
export interface RolloutView {
  readonly id: string
  readonly change: Change
  readonly budgetClass: BudgetClass
  readonly state: RolloutState
  readonly phase: Phase
  readonly reason?: string
  readonly wave: number
  readonly waves: readonly (WaveRange & Partial<WaveStats>)[]
  readonly bakeMs: number
  readonly bakeUntil?: number
  readonly delivered: number
  readonly deliveredCost: number
  readonly queued: number
  readonly coalesced: number
  readonly createdAt: number
  readonly endedAt?: number
  /** Config changes: keys later config changes took over, left out of `change` once it finished. */
  readonly superseded?: readonly string[]
  /** The change's own gate (`false`: none); absent, the gates section applies. */
  readonly gate?: ChangeGate
}

export class Rollout {
  state: RolloutState = 'planned'
  phase: Phase = 'delivering'
  reason: string | undefined
  waveIndex = -1
  bakeUntil: number | undefined
  endedAt: number | undefined
  readonly delivered = new Set<string>()
  deliveredCost = 0
  readonly queue = new Fifo<string>()
  readonly stats: WaveStats[] = []
  coalesced = 0
  timer: Timer | undefined
  /**
   * Config changes: the values (and unset keys) that undo this change, for
   * the keys it still governs (no later config change set or unset them).
   */
  undo: { values: Record<string, unknown>; unset: string[] } | undefined
  /** Config changes: keys a later config change took over, left out of the change (see supersede). */
  readonly superseded = new Set<string>()
  /** The change's own gate, if it brought one (`false`: none); else the gates section applies. */
  gate: ChangeGate | undefined
  #change: Change

  constructor(
    change: Change,
    readonly budgetClass: BudgetClass,
    readonly waves: readonly WaveRange[],
    readonly bakeMs: number,
    readonly shards: number,
    readonly identity: string,
    readonly createdAt: number,
    /** Only these clients may receive it (a rollback goes only where the original went). */
    readonly audience?: ReadonlySet<string>,
  ) {
    this.#change = change
  }

  /** The change; a finished config change's, without the keys later ones took over. */
  get change(): Change {
    return this.#change
  }

  get id(): string {
    return this.#change.id
  }

  /**
   * A later config change set or unset `keys`: a rollback of this one must
   * leave them alone, so they leave its undo; and once this rollout is over
   * (`finished`) they leave its change too — the values it pushed for them
   * are history, not state, and a client it still catches up gets them from
   * the later change (whatever the order it gets the two in).
   */
  supersede(keys: readonly string[], finished: boolean): void {
    if (keys.length === 0) return
    const gone = new Set(keys)
    if (this.undo) {
      for (const k of gone) delete this.undo.values[k]
      this.undo.unset = this.undo.unset.filter((k) => !gone.has(k))
    }
    if (!finished) return
    const c = this.#change
    const values = Object.fromEntries(Object.entries(c.values ?? {}).filter(([k]) => !gone.has(k)))
    const unset = c.unset?.filter((k) => !gone.has(k)) ?? []
    const before = Object.keys(c.values ?? {}).length + (c.unset?.length ?? 0)
    if (Object.keys(values).length + unset.length === before) return
    const unsetBefore = new Set(c.unset)
    for (const k of gone)
      if (Object.hasOwn(c.values ?? {}, k) || unsetBefore.has(k)) this.superseded.add(k)
    const { unset: _u, ...rest } = c
    this.#change = Object.freeze({ ...rest, values, ...(unset.length > 0 && { unset }) })
  }

  /** Shard bound of the waves reached so far: a client below it is due now. */
  get reachedHi(): number {
    return this.waveIndex >= 0 ? this.waves[this.waveIndex]!.hi : 0
  }

  /** May the pacer deliver for it now? Completed rollouts still serve catch-ups. */
  get servable(): boolean {
    return this.state === 'rolling' || this.state === 'completed'
  }

  wants(clientId: string): boolean {
    return !this.delivered.has(clientId) && (!this.audience || this.audience.has(clientId))
  }

  cancelTimer(): void {
    this.timer?.cancel()
    this.timer = undefined
  }

  view(): RolloutView {
    return {
      id: this.id,
      change: this.change,
      budgetClass: this.budgetClass,
      state: this.state,
      phase: this.phase,
      ...(this.reason !== undefined && { reason: this.reason }),
      wave: this.waveIndex,
      waves: this.waves.map((w, i) => ({ ...w, ...this.stats[i] })),
      bakeMs: this.bakeMs,
      ...(this.bakeUntil !== undefined && { bakeUntil: this.bakeUntil }),
      delivered: this.delivered.size,
      deliveredCost: this.deliveredCost,
      queued: this.queue.length,
      coalesced: this.coalesced,
      createdAt: this.createdAt,
      ...(this.endedAt !== undefined && { endedAt: this.endedAt }),
      ...(this.superseded.size > 0 && { superseded: [...this.superseded] }),
      ...(this.gate !== undefined && { gate: this.gate }),
    }
  }
}

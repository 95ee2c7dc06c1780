/**
 * One rollout's bookkeeping: its state, the wave it is on, who has it, who
 * is still queued. The engine moves it; this file only holds and reports.
 */
import type { Timer } from '../limiter/clock.js'
import type { BudgetClass, Change } from './change.js'
import { Fifo } from './fifo.js'
import type { WaveRange } from './planner.js'
import type { RolloutState } from './states.js'

export type Phase = 'delivering' | 'baking' | 'done'

export interface WaveStats {
  /** Clients queued for this wave when it started (catch-ups are counted as they join). */
  queued: number
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
  /** Config changes: the values (and unset keys) that undo this change. */
  undo: { values: Record<string, unknown>; unset: string[] } | undefined

  constructor(
    readonly change: Change,
    readonly budgetClass: BudgetClass,
    readonly waves: readonly WaveRange[],
    readonly bakeMs: number,
    readonly shards: number,
    readonly identity: string,
    readonly createdAt: number,
    /** Only these clients may receive it (a rollback goes only where the original went). */
    readonly audience?: ReadonlySet<string>,
  ) {}

  get id(): string {
    return this.change.id
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
    }
  }
}

/**
 * The engine's state and the steps its operations share: find a rollout,
 * price a delivery, mint a change, create, coalesce and roll back a rollout.
 * Internal: Engine (engine.ts) is the API over it; the fleet side
 * (engine-fleet.ts) and recovery after lost state (recovery.ts) work on it.
 */
import { ClosedError, NotConfigChangeError, UnknownRolloutError } from '../errors.js'
import { budgetClassOf } from '../model/budget.js'
import type { Change } from '../model/change.js'
import type { Clock } from '../model/clock.js'
import { Budgets, type ClassBudget } from './budgets.js'
import { deliveryCost } from './change.js'
import { ConfigState } from './config-state.js'
import type { EngineOptions, RollbackOptions, SubmitResult } from './engine-options.js'
import { type EngineParts, restoreSnapshot, takeSnapshot } from './engine-state.js'
import { changeId } from './ids.js'
import { Lifecycle } from './lifecycle.js'
import { type EngineConfig, parseEngineConfig } from './options.js'
import { planWaves } from './planner.js'
import { rampBack } from './ramp.js'
import { Registry } from './registry.js'
import { Rollout, type RolloutView } from './rollout.js'
import { RolloutBook } from './rollout-book.js'
import { Sketches } from './sketches.js'
import { checkSnapshot, type EngineSnapshot } from './snapshot.js'

export class EngineCore {
  readonly clock: Clock
  settings: EngineConfig
  readonly registry = new Registry()
  readonly rollouts = new RolloutBook()
  /** Clients' key sketches: who may hold the keys of a keys-only change. */
  readonly sketches: Sketches
  readonly budgets: Budgets
  /** Config values as pushed, and as of completed rollouts only; who governs each key. */
  readonly config = new ConfigState()
  readonly life: Lifecycle
  readonly opts: EngineOptions
  seq = 0
  closed = false
  readonly epoch: string | undefined
  /** Config values taken from the fleet after a cold start (adoptConfig), not pushed here. */
  adopted = false

  /** What a snapshot is taken from and restored into. */
  get parts(): EngineParts {
    return {
      fleet: this.settings.fleet,
      epoch: this.epoch,
      clock: this.clock,
      registry: this.registry,
      rollouts: this.rollouts,
      budgets: this.budgets.byClass,
      config: this.config,
    }
  }

  constructor(opts: EngineOptions) {
    this.opts = opts
    this.clock = opts.clock
    this.settings = parseEngineConfig(opts.config ?? {})
    const snap = opts.snapshot ? checkSnapshot(opts.snapshot, this.settings.fleet) : undefined
    this.epoch = snap?.epoch ?? opts.epoch
    this.sketches = new Sketches(this.clock, this.registry, this.settings.sketches)
    this.life = new Lifecycle({
      clock: this.clock,
      registry: this.registry,
      pacer: (r) => this.budget(r).pacer,
      cost: (r, id) => this.cost(r, id),
      sketched: (r) => this.sketches.pick(r),
      emit: (e) => this.opts.onEvent?.(e),
      ...(opts.gate && { gate: opts.gate }),
      // A failing config change rolls back; anything else (a rollback included) waits for a human.
      gateFailed: (r, reason) =>
        r.change.kind === 'config' && !r.change.rollbackOf
          ? this.rollback(r.id, reason)
          : this.life.pause(r, reason),
      finished: (r) => {
        this.rollouts.finished(r)
        if (r.change.kind === 'config') this.config.finished(r, this.rollouts.values())
        if (r.change.rollbackOf) this.#rollbackEnded(r)
      },
      closed: () => this.closed,
    })
    this.budgets = new Budgets(
      this.settings.budgets,
      this.clock,
      {
        cost: (r, id) => this.cost(r, id),
        eligible: (r, id) => this.registry.isLive(id) && r.wants(id),
        deliver: (d) => this.opts.deliver?.(d),
        drained: (r) => this.life.drained(r),
      },
      snap?.buckets,
      opts.coldStart === true,
    )
    if (snap) this.#restore(snap)
  }

  open(): void {
    if (this.closed) throw new ClosedError('engine')
  }

  find(id: string): Rollout {
    this.open()
    const r = this.rollouts.get(id)
    if (!r) throw new UnknownRolloutError(id)
    return r
  }

  budget(r: Rollout): ClassBudget {
    return this.budgets.get(r.budgetClass)
  }

  cost(r: Rollout, clientId: string): number {
    const client = this.registry.get(clientId)
    return deliveryCost(
      r.change,
      client?.entries ?? this.settings.defaultEntries,
      client?.capacity,
      this.budget(r).pacer.bucket.params.burst,
    )
  }

  newChange(fields: Omit<Change, 'id' | 'seq' | 'submittedAt'>): Change {
    const seq = ++this.seq
    const id = changeId(seq, this.epoch)
    return Object.freeze({ id, seq, ...fields, submittedAt: this.clock.now() })
  }

  create(
    change: Change,
    identity: string,
    steps: readonly number[],
    bakeMs: number,
    audience?: Set<string>,
  ) {
    const waves = planWaves(steps, this.settings.shards)
    const r = new Rollout(
      change,
      budgetClassOf(change),
      waves,
      bakeMs,
      this.settings.shards,
      identity,
      this.clock.now(),
      audience,
    )
    if (change.kind === 'config')
      this.config.created(r, (earlier, keys) =>
        this.opts.onEvent?.({
          type: 'superseded',
          rolloutId: earlier.id,
          by: r.id,
          keys,
          at: this.clock.now(),
        }),
      )
    this.rollouts.add(r)
    for (const gone of this.rollouts.prune(this.settings.retainFinished)) this.config.forget(gone)
    return r
  }

  coalesce(
    r: Rollout,
    by: 'idempotencyKey' | 'target',
    key: string | undefined,
    digest: string,
  ): SubmitResult {
    r.coalesced++
    this.rollouts.remember(key, r.id, digest)
    this.opts.onEvent?.({ type: 'coalesced', rolloutId: r.id, by, at: this.clock.now() })
    return { rollout: r.view(), coalesced: by }
  }

  /** A rollback is over: the change it undoes is rolled back (or failed, if the rollback did not complete). */
  #rollbackEnded(back: Rollout): void {
    const original = this.rollouts.get(back.change.rollbackOf!)
    if (original?.state !== 'rolling_back') return
    if (back.state === 'completed') this.life.move(original, 'rolled_back', original.reason)
    else this.life.move(original, 'failed', `its rollback ${back.id} ended ${back.state}`)
  }

  /** See Engine.rollback. */
  rollback(id: string, reason?: string, opts: RollbackOptions = {}): RolloutView {
    const r = this.find(id)
    if (r.change.kind !== 'config' || !r.undo) throw new NotConfigChangeError(id, r.change.kind)
    this.life.stop(r, 'rolling_back', reason ?? 'rollback')
    // Copies: the undo is trimmed as the rollback takes its keys over.
    const change = this.newChange({
      kind: 'config',
      // A ramped key walks back at the same pace; the rest return at once.
      values: rampBack(r.undo.values, r.change.values ?? {}),
      ...(r.undo.unset.length > 0 && { unset: [...r.undo.unset] }),
      mode: r.change.mode,
      priority: opts.urgent ? 'urgent' : r.change.priority,
      reason: reason ?? `rollback of ${id}`,
      rollbackOf: id,
    })
    // The same waves under the same budget, without bakes: the remedy is not what is on trial.
    const steps = r.waves.map((w) => w.fraction)
    const back = this.create(change, `rollback:${id}`, steps, 0, new Set(r.delivered))
    this.life.start(back)
    return back.view()
  }

  snapshot(full: boolean): EngineSnapshot {
    return takeSnapshot(this.parts, this.seq, full)
  }

  #restore(snap: EngineSnapshot): void {
    this.seq = snap.seq
    restoreSnapshot({ ...this.parts, life: this.life }, snap)
  }
}

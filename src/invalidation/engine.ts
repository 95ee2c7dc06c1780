/**
 * The engine: takes changes, plans their waves, paces deliveries under each
 * class's budget (B1), grants refetch tokens (B2), coalesces duplicates (C),
 * delivers each change to each client at most once (I), and snapshots its
 * whole state so a restarted coordinator resumes where it was. Pure: time and
 * timers come from the injected Clock, deliveries leave through a callback.
 *
 * This file is the API; the state and shared steps are in engine-core.ts,
 * the client side in engine-fleet.ts, recovery after lost state in recovery.ts.
 */
import { IdempotencyConflictError, InvalidOptionError } from '../errors.js'
import type { GcraParams } from '../limiter/gcra.js'
import type { BudgetClass } from '../model/budget.js'
import type { Change } from '../model/change.js'
import type { Clock } from '../model/clock.js'
import { parseOptions } from '../validate.js'
import { identityOf, parseChange, requestDigest, wavesSchema } from './change.js'
import { EngineCore } from './engine-core.js'
import type { SketchAnswer } from './engine-fleet.js'
import * as fleet from './engine-fleet.js'
import type { EngineOptions, LeaseGrant, RollbackOptions, SubmitResult } from './engine-options.js'
import type { EngineEvent, GateContext, GateResult } from './events.js'
import { type EngineConfig, type EngineConfigInput, parseEngineConfig } from './options.js'
import type { Delivery } from './pacer.js'
import type { FleetSums } from './plan.js'
import { rampedValues } from './ramp.js'
import * as recovery from './recovery.js'
import type { RolloutView } from './rollout.js'
import type { SketchUpdate } from './sketches.js'
import { type EngineSnapshot, type RolloutSnapshot, rolloutToSnapshot } from './snapshot.js'

export type {
  Delivery,
  EngineEvent,
  EngineOptions,
  GateContext,
  GateResult,
  LeaseGrant,
  SubmitResult,
}

export class Engine {
  readonly clock: Clock
  readonly #core: EngineCore

  constructor(opts: EngineOptions) {
    this.#core = new EngineCore(opts)
    this.clock = this.#core.clock
  }

  /** The last sequence number handed out. */
  get seq(): number {
    return this.#core.seq
  }

  /** The lineage of state this engine continues (undefined: ids are plain `chg-<seq>`). */
  get epoch(): string | undefined {
    return this.#core.epoch
  }

  get liveClients(): number {
    return this.#core.registry.liveCount
  }

  /** Every client the engine knows: id, reported entries, connected or not (read-only views, not copies). */
  clients(): IterableIterator<{
    readonly id: string
    readonly entries: number | undefined
    readonly capacity?: number
    readonly live: boolean
    readonly firstSeq: number
  }> {
    return this.#core.registry.all()
  }

  /**
   * The live fleet's sums for a change to a few keys (≤ SMALL_ENTRIES):
   * entries it can touch, entries in all, and its delivery cost, kept as
   * clients come, go and report (no pass over them).
   */
  get fleetSums(): FleetSums {
    const registry = this.#core.registry
    return {
      live: registry.liveCount,
      keysCost: (keys, fallback, most) => registry.keysCost(keys, fallback, most),
    }
  }

  /** One client as the engine knows it. */
  client(
    id: string,
  ): { readonly entries: number | undefined; readonly firstSeq: number } | undefined {
    return this.#core.registry.get(id)
  }

  /** The engine's settings (budgets, waves, leases…), parsed and frozen. */
  get config(): EngineConfig {
    return this.#core.settings
  }

  /**
   * Change settings while running. Budgets, waves, leases, defaultEntries and
   * retainFinished take effect at once (buckets keep their state; rolling
   * changes keep their plan); fleet and shards cannot change.
   */
  reconfigure(input: EngineConfigInput): EngineConfig {
    const core = this.#core
    const next = parseEngineConfig(input)
    if (next.fleet !== core.settings.fleet) {
      throw new InvalidOptionError(
        'fleet',
        `\`${core.settings.fleet}\` (fixed while running)`,
        next.fleet,
      )
    }
    if (next.shards !== core.settings.shards) {
      throw new InvalidOptionError(
        'shards',
        `${core.settings.shards} (fixed while running)`,
        next.shards,
      )
    }
    core.budgets.params = next.budgets
    core.sketches.settings = next.sketches
    core.settings = next
    return next
  }

  /** Refetch tokens of `cls` at `ratePerSec` from now on, within its budget (see Budgets.setTokenRate). */
  setTokenRate(cls: BudgetClass, ratePerSec: number): number {
    return this.#core.budgets.setTokenRate(cls, this.config.budgets[cls], ratePerSec)
  }

  /** The rate and burst `cls` grants refetch tokens at now (rewarm: its adaptive rate). */
  tokenParams(cls: BudgetClass): GcraParams {
    return this.#core.budgets.get(cls).tokens.params
  }

  /** Config values as last pushed (what the fleet converges to); the same frozen object until they change. */
  get configValues(): Readonly<Record<string, unknown>> {
    return this.#core.config.pushed.toJSON()
  }

  /**
   * Config values of completed config changes only: what a new client should
   * start from. The same frozen object until they change (a cache may key on it).
   */
  get stableConfigValues(): Readonly<Record<string, unknown>> {
    return this.#core.config.stable.toJSON()
  }

  /**
   * After a cold start (state lost, the fleet kept its own): take the config
   * values the fleet runs as this engine's, so clients that join later start
   * from them instead of from nothing. Only while no config change has been
   * pushed here and nothing was adopted before. Clients that joined new in
   * the meantime started from nothing: the values go to them as a config
   * rollout (waves, budget), which is returned. `undefined`: not adopted.
   */
  adoptConfig(
    values: Readonly<Record<string, unknown>>,
    reason = 'config adopted from the fleet after the coordinator lost its state',
  ): { rollout?: RolloutView } | undefined {
    return recovery.adoptConfig(this.#core, values, reason)
  }

  /**
   * A change made before this engine's state began (a client that applied it
   * proved it, signed), rolled out again under its own id to every client, in
   * one wave at its budget's pace (it was already going out): those that had
   * it take it as a duplicate, the rest apply it. Only hard invalidations
   * need this (a reset already marks everything else stale).
   * Returns the rollout (the existing one if recovered before).
   */
  recover(change: Change, reason?: string): { rollout: RolloutView; created: boolean } {
    return recovery.recover(this.#core, change, reason)
  }

  // ---- changes -------------------------------------------------------------

  /**
   * Accept a change and start rolling it out; a duplicate joins the existing
   * rollout. The same idempotency key with another change (see
   * requestDigest) throws IdempotencyConflictError and changes nothing.
   */
  submit(input: unknown): SubmitResult {
    const core = this.#core
    core.open()
    const parsed = parseChange(input)
    const waves = parseOptions(wavesSchema, { ...this.config.waves, ...parsed.waves }, 'waves')
    const key = parsed.idempotencyKey
    const digest = requestDigest(parsed)
    const earlier = core.rollouts.byKey(key)
    if (earlier) {
      // A key names one request: another change under it is refused, not folded in.
      if (earlier.digest !== undefined && earlier.digest !== digest)
        throw new IdempotencyConflictError(key!, earlier.rollout.id)
      return core.coalesce(earlier.rollout, 'idempotencyKey', key, digest)
    }
    const identity = identityOf(parsed)
    const same = core.rollouts.active(identity)
    if (same) return core.coalesce(same, 'target', key, digest)
    const values = parsed.values && rampedValues(parsed.values, core.config.pushed.toJSON())
    if (parsed.kind === 'config')
      core.config.check({ ...parsed, ...(values && { values }) }, this.config.configBytes)

    const change = core.newChange({
      kind: parsed.kind,
      ...(parsed.target && { target: parsed.target }),
      ...(values && { values }),
      ...(parsed.unset && { unset: parsed.unset }),
      mode: parsed.mode,
      priority: parsed.priority,
      ...(parsed.reason !== undefined && { reason: parsed.reason }),
    })
    const r = core.create(change, identity, waves.steps, waves.bakeMs)
    r.gate = parsed.gate
    core.rollouts.remember(key, r.id, digest)
    core.life.start(r)
    return { rollout: r.view(), coalesced: false }
  }

  get(id: string): RolloutView {
    return this.#core.find(id).view()
  }

  list(): RolloutView[] {
    return [...this.#core.rollouts.values()].map((r) => r.view())
  }

  pause(id: string, reason?: string): RolloutView {
    const r = this.#core.find(id)
    this.#core.life.pause(r, reason)
    return r.view()
  }

  resume(id: string): RolloutView {
    const r = this.#core.find(id)
    this.#core.life.resume(r)
    return r.view()
  }

  abort(id: string, reason?: string): RolloutView {
    const r = this.#core.find(id)
    this.#core.life.stop(r, 'aborted', reason)
    return r.view()
  }

  /** Mark a rollout failed (it cannot go on); like abort, nothing more is delivered. */
  fail(id: string, reason: string): RolloutView {
    const r = this.#core.find(id)
    this.#core.life.stop(r, 'failed', reason)
    return r.view()
  }

  /**
   * Undo a config change: a new config change restoring the previous values,
   * sent in the same waves under the same budget (the `urgent` one with
   * `urgent`), without bakes, to exactly the clients that got the original.
   */
  rollback(id: string, reason?: string, opts?: RollbackOptions): RolloutView {
    return this.#core.rollback(id, reason, opts)
  }

  // ---- fleet ---------------------------------------------------------------

  /**
   * A client connected. It is queued for every rolling change whose waves
   * already reached its shard, and for every completed change made after it
   * was first seen that it has not had (it was away when its wave came).
   * `since`: the client says it has applied every change up to that sequence
   * number (another replica delivered them), so those are skipped.
   * `predates`: the client was in the fleet before this engine's state began
   * (it resumes from an older epoch: the coordinator restarted cold, or its
   * store was lost): every change here it has not had concerns it, even if
   * the engine heard of it before (a heartbeat that came before its join).
   */
  join(
    clientId: string,
    info: { entries?: number; since?: number; predates?: boolean } = {},
  ): void {
    fleet.join(this.#core, clientId, info)
  }

  leave(clientId: string): void {
    this.#core.open()
    this.#core.registry.leave(clientId)
  }

  /**
   * A heartbeat's cache size, and the most its cache holds (if it says): the
   * next deliveries' cost estimates use them.
   */
  report(clientId: string, entries: number, capacity?: number): void {
    fleet.report(this.#core, clientId, entries, capacity)
  }

  /**
   * A client's key sketch (invalidation/sketch.ts) and the keys it cached
   * since its previous update: changes to keys only then skip it while the
   * sketch is fresh and holds none of their keys, and a skipped change to a
   * key it reports added is queued for it now. `lost`: it was silent past
   * `sketches.windowMs`, and its whole cache should be marked stale.
   */
  sketch(clientId: string, update: SketchUpdate): SketchAnswer {
    return fleet.sketch(this.#core, clientId, update)
  }

  /** Has the client a fresh sketch here? (If not, its heartbeat's answer asks for a filter.) */
  sketchKnown(clientId: string): boolean {
    return this.#core.sketches.known(clientId)
  }

  /** Skips and replays so far, and clients with a sketch (for metrics). */
  get sketchCounts(): { skipped: number; replayed: number; clients: number } {
    return this.#core.sketches.counts
  }

  /**
   * Refetch tokens (B2): up to `min(want, leases.maxBatch)` whole tokens,
   * valid for `leases.ttlMs`. While other clients ask too, at least this
   * client's fair share of the class's rate, and beyond it only what the
   * others leave (see gcraGrantShare).
   */
  lease(clientId: string, want: number, budgetClass: BudgetClass = 'invalidate'): LeaseGrant {
    return fleet.lease(this.#core, clientId, want, budgetClass)
  }

  /**
   * Was rewarm `changeId` sent to `clientId`, and is its rollout known and
   * over for at most `maxAgeMs`? Only then is a checkpoint of it kept (a
   * client cannot make the store keep one for a change it never got).
   */
  sentRewarm(changeId: string, clientId: string, maxAgeMs: number): boolean {
    return fleet.sentRewarm(this.#core, changeId, clientId, maxAgeMs)
  }

  // ---- state ---------------------------------------------------------------

  snapshot(): EngineSnapshot {
    return this.#core.snapshot(true)
  }

  /**
   * The parts a replicated store saves after each step, cheaply: a rollout
   * without its delivered set and queue (those are saved as they grow).
   */
  rolloutSummary(id: string): RolloutSnapshot {
    return rolloutToSnapshot(this.#core.find(id), { sets: false })
  }

  /** Everything in a snapshot but the clients and the rollouts. */
  snapshotHead(): Omit<EngineSnapshot, 'clients' | 'rollouts'> {
    const { clients: _c, rollouts: _r, ...head } = this.#core.snapshot(false)
    return head
  }

  /** Stop every timer; the engine can no longer be used. */
  close(): void {
    const core = this.#core
    if (core.closed) return
    core.closed = true
    for (const r of core.rollouts.values()) r.cancelTimer()
    core.budgets.close()
  }
}

/**
 * The engine: takes changes, plans their waves, paces deliveries under each
 * class's budget (B1), grants refetch tokens (B2), coalesces duplicates (C),
 * delivers each change to each client at most once (I), and snapshots its
 * whole state so a restarted coordinator resumes where it was. Pure: time and
 * timers come from the injected Clock, deliveries leave through a callback.
 */
import {
  ClosedError,
  IdempotencyConflictError,
  InvalidOptionError,
  NotConfigChangeError,
  UnknownRolloutError,
} from '../errors.js'
import type { GcraParams } from '../limiter/gcra.js'
import { type BudgetClass, budgetClassOf } from '../model/budget.js'
import type { Change } from '../model/change.js'
import type { Clock } from '../model/clock.js'
import { parseOptions } from '../validate.js'
import { Budgets, type ClassBudget } from './budgets.js'
import { deliveryCost, identityOf, parseChange, requestDigest, wavesSchema } from './change.js'
import { ConfigState } from './config-state.js'
import { type EngineParts, restoreSnapshot, takeSnapshot } from './engine-state.js'
import type { EngineEvent, GateContext, GateResult } from './events.js'
import { changeId } from './ids.js'
import { Lifecycle } from './lifecycle.js'
import { type EngineConfig, type EngineConfigInput, parseEngineConfig } from './options.js'
import type { Delivery, Pacer } from './pacer.js'
import { planWaves } from './planner.js'
import { Registry } from './registry.js'
import { Rollout, type RolloutView } from './rollout.js'
import { RolloutBook } from './rollout-book.js'
import { shardOf } from './shard.js'
import {
  checkSnapshot,
  type EngineSnapshot,
  type RolloutSnapshot,
  rolloutToSnapshot,
} from './snapshot.js'

export type { EngineEvent, GateContext, GateResult }

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

export class Engine {
  readonly clock: Clock
  #settings: EngineConfig
  readonly #registry = new Registry()
  readonly #rollouts = new RolloutBook()
  readonly #budgets: Budgets
  /** Config values as pushed, and as of completed rollouts only; who governs each key. */
  readonly #config = new ConfigState()
  readonly #life: Lifecycle
  readonly #opts: EngineOptions
  #seq = 0
  #closed = false
  readonly #epoch: string | undefined
  /** Config values taken from the fleet after a cold start (adoptConfig), not pushed here. */
  #adopted = false
  /** What a snapshot is taken from and restored into. */
  get #parts(): EngineParts {
    return {
      fleet: this.config.fleet,
      epoch: this.#epoch,
      clock: this.clock,
      registry: this.#registry,
      rollouts: this.#rollouts,
      budgets: this.#budgets.byClass,
      config: this.#config,
    }
  }

  constructor(opts: EngineOptions) {
    this.#opts = opts
    this.clock = opts.clock
    this.#settings = parseEngineConfig(opts.config ?? {})
    const snap = opts.snapshot ? checkSnapshot(opts.snapshot, this.config.fleet) : undefined
    this.#epoch = snap?.epoch ?? opts.epoch
    this.#life = new Lifecycle({
      clock: this.clock,
      registry: this.#registry,
      pacer: (r) => this.#budget(r).pacer,
      emit: (e) => this.#opts.onEvent?.(e),
      ...(opts.gate && { gate: opts.gate }),
      // A failing config change rolls back; anything else (a rollback included) waits for a human.
      gateFailed: (r, reason) =>
        r.change.kind === 'config' && !r.change.rollbackOf
          ? this.rollback(r.id, reason)
          : this.#life.pause(r, reason),
      finished: (r) => {
        this.#rollouts.finished(r)
        if (r.change.kind === 'config') this.#config.finished(r, this.#rollouts.values())
      },
      closed: () => this.#closed,
    })
    this.#budgets = new Budgets(
      this.config.budgets,
      this.clock,
      {
        cost: (r, id) => this.#cost(r, id),
        eligible: (r, id) => this.#registry.isLive(id) && r.wants(id),
        deliver: (d) => this.#opts.deliver?.(d),
        drained: (r) => this.#life.drained(r),
      },
      snap?.buckets,
      opts.coldStart === true,
    )
    if (snap) this.#restore(snap)
  }

  /** The last sequence number handed out. */
  get seq(): number {
    return this.#seq
  }

  /** The lineage of state this engine continues (undefined: ids are plain `chg-<seq>`). */
  get epoch(): string | undefined {
    return this.#epoch
  }

  get liveClients(): number {
    return this.#registry.liveCount
  }

  /** Every client the engine knows: id, reported entries, connected or not. */
  *clients(): IterableIterator<{
    id: string
    entries: number | undefined
    capacity?: number
    live: boolean
    firstSeq: number
  }> {
    for (const c of this.#registry.all()) {
      yield {
        id: c.id,
        entries: c.entries,
        ...(c.capacity !== undefined && { capacity: c.capacity }),
        live: c.live,
        firstSeq: c.firstSeq,
      }
    }
  }

  /** One client as the engine knows it. */
  client(
    id: string,
  ): { readonly entries: number | undefined; readonly firstSeq: number } | undefined {
    return this.#registry.get(id)
  }

  /** The engine's settings (budgets, waves, leases…), parsed and frozen. */
  get config(): EngineConfig {
    return this.#settings
  }

  /**
   * Change settings while running. Budgets, waves, leases, defaultEntries and
   * retainFinished take effect at once (buckets keep their state; rolling
   * changes keep their plan); fleet and shards cannot change.
   */
  reconfigure(input: EngineConfigInput): EngineConfig {
    const next = parseEngineConfig(input)
    if (next.fleet !== this.#settings.fleet) {
      throw new InvalidOptionError(
        'fleet',
        `\`${this.#settings.fleet}\` (fixed while running)`,
        next.fleet,
      )
    }
    if (next.shards !== this.#settings.shards) {
      throw new InvalidOptionError(
        'shards',
        `${this.#settings.shards} (fixed while running)`,
        next.shards,
      )
    }
    this.#budgets.params = next.budgets
    this.#settings = next
    return next
  }

  /** Refetch tokens of `cls` at `ratePerSec` from now on, within its budget (see Budgets.setTokenRate). */
  setTokenRate(cls: BudgetClass, ratePerSec: number): number {
    return this.#budgets.setTokenRate(cls, this.config.budgets[cls], ratePerSec)
  }

  /** The rate and burst `cls` grants refetch tokens at now (rewarm: its adaptive rate). */
  tokenParams(cls: BudgetClass): GcraParams {
    return this.#budgets.get(cls).tokens.params
  }

  /** Config values as last pushed (what the fleet converges to); the same frozen object until they change. */
  get configValues(): Readonly<Record<string, unknown>> {
    return this.#config.pushed.toJSON()
  }

  /**
   * Config values of completed config changes only: what a new client should
   * start from. The same frozen object until they change (a cache may key on it).
   */
  get stableConfigValues(): Readonly<Record<string, unknown>> {
    return this.#config.stable.toJSON()
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
    this.#open()
    if (this.#adopted) return undefined
    for (const r of this.#rollouts.values()) if (r.change.kind === 'config') return undefined
    if (Object.keys(this.#config.pushed.toJSON()).length > 0) return undefined
    this.#adopted = true
    const fresh = [...this.#registry.live()].filter((c) => c.firstSeq !== PREDATES).map((c) => c.id)
    if (Object.keys(values).length === 0) return {}
    let rollout: RolloutView | undefined
    if (fresh.length > 0) {
      const change = this.#newChange({
        kind: 'config',
        values,
        mode: 'soft',
        priority: 'normal',
        reason,
      })
      const { steps, bakeMs } = this.config.waves
      const r = this.#create(change, `adopt:${change.id}`, steps, bakeMs, new Set(fresh))
      this.#life.start(r)
      rollout = r.view()
    }
    this.#config.adopt({ ...values })
    return rollout ? { rollout } : {}
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
    this.#open()
    const known = this.#rollouts.get(change.id)
    if (known) return { rollout: known.view(), created: false }
    const parsed = parseChange({
      kind: change.kind,
      target: change.target,
      mode: change.mode,
      priority: change.priority,
      ...(change.reason !== undefined && { reason: change.reason }),
    })
    if (parsed.kind !== 'invalidate' || parsed.mode !== 'hard')
      throw new InvalidOptionError('kind', 'a hard invalidation', `${parsed.kind}/${parsed.mode}`)
    const seq = ++this.#seq
    const recovered: Change = Object.freeze({
      id: change.id,
      seq,
      kind: parsed.kind,
      ...(parsed.target && { target: parsed.target }),
      mode: parsed.mode,
      priority: parsed.priority,
      reason:
        reason ?? `recovered after the coordinator lost its state: ${change.reason ?? change.id}`,
      submittedAt: this.clock.now(),
    })
    // It was already going out: one wave, at the pace of its budget.
    const r = this.#create(recovered, `recovered:${change.id}`, [1], 0)
    this.#life.start(r)
    return { rollout: r.view(), created: true }
  }

  // ---- changes -------------------------------------------------------------

  /**
   * Accept a change and start rolling it out; a duplicate joins the existing
   * rollout. The same idempotency key with another change (see
   * requestDigest) throws IdempotencyConflictError and changes nothing.
   */
  submit(input: unknown): SubmitResult {
    this.#open()
    const parsed = parseChange(input)
    const waves = parseOptions(wavesSchema, { ...this.config.waves, ...parsed.waves }, 'waves')
    const key = parsed.idempotencyKey
    const digest = requestDigest(parsed)
    const earlier = this.#rollouts.byKey(key)
    if (earlier) {
      // A key names one request: another change under it is refused, not folded in.
      if (earlier.digest !== undefined && earlier.digest !== digest)
        throw new IdempotencyConflictError(key!, earlier.rollout.id)
      return this.#coalesce(earlier.rollout, 'idempotencyKey', key, digest)
    }
    const identity = identityOf(parsed)
    const same = this.#rollouts.active(identity)
    if (same) return this.#coalesce(same, 'target', key, digest)
    if (parsed.kind === 'config') this.#config.check(parsed, this.config.configBytes)

    const change = this.#newChange({
      kind: parsed.kind,
      ...(parsed.target && { target: parsed.target }),
      ...(parsed.values && { values: parsed.values }),
      ...(parsed.unset && { unset: parsed.unset }),
      mode: parsed.mode,
      priority: parsed.priority,
      ...(parsed.reason !== undefined && { reason: parsed.reason }),
    })
    const r = this.#create(change, identity, waves.steps, waves.bakeMs)
    this.#rollouts.remember(key, r.id, digest)
    this.#life.start(r)
    return { rollout: r.view(), coalesced: false }
  }

  get(id: string): RolloutView {
    return this.#find(id).view()
  }

  list(): RolloutView[] {
    return [...this.#rollouts.values()].map((r) => r.view())
  }

  pause(id: string, reason?: string): RolloutView {
    const r = this.#find(id)
    this.#life.pause(r, reason)
    return r.view()
  }

  resume(id: string): RolloutView {
    const r = this.#find(id)
    this.#life.resume(r)
    return r.view()
  }

  abort(id: string, reason?: string): RolloutView {
    const r = this.#find(id)
    this.#life.stop(r, 'aborted', reason)
    return r.view()
  }

  /** Mark a rollout failed (it cannot go on); like abort, nothing more is delivered. */
  fail(id: string, reason: string): RolloutView {
    const r = this.#find(id)
    this.#life.stop(r, 'failed', reason)
    return r.view()
  }

  /**
   * Undo a config change: a new config change restoring the previous values,
   * sent in waves under the same budget to the clients that got the original.
   */
  rollback(id: string, reason?: string): RolloutView {
    const r = this.#find(id)
    if (r.change.kind !== 'config' || !r.undo) throw new NotConfigChangeError(id, r.change.kind)
    this.#life.stop(r, 'rolled_back', reason ?? 'rollback')
    // Copies: the undo is trimmed as the rollback takes its keys over.
    const change = this.#newChange({
      kind: 'config',
      values: { ...r.undo.values },
      ...(r.undo.unset.length > 0 && { unset: [...r.undo.unset] }),
      mode: r.change.mode,
      priority: r.change.priority,
      reason: reason ?? `rollback of ${id}`,
      rollbackOf: id,
    })
    const steps = r.waves.map((w) => w.fraction)
    const back = this.#create(change, `rollback:${id}`, steps, r.bakeMs, new Set(r.delivered))
    this.#life.start(back)
    return back.view()
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
    this.#open()
    checkClientId(clientId)
    if (info.entries !== undefined) checkEntries(info.entries)
    this.#registry.join(clientId, info.entries, info.predates ? PREDATES : this.#seq)
    const firstSeq = this.#registry.get(clientId)!.firstSeq
    const kicked = new Set<Pacer>()
    for (const r of this.#rollouts.values()) {
      if (!r.wants(clientId)) continue
      if (info.since !== undefined && r.change.seq <= info.since) continue
      const missed = r.state === 'completed' && firstSeq < r.change.seq
      const due =
        (r.state === 'rolling' || r.state === 'paused') &&
        shardOf(clientId, r.id, r.shards) < r.reachedHi
      if (!missed && !due) continue
      r.queue.push(clientId)
      const pacer = this.#budget(r).pacer
      if (r.state === 'completed') pacer.add(r)
      kicked.add(pacer)
    }
    for (const pacer of kicked) pacer.kick()
  }

  leave(clientId: string): void {
    this.#open()
    this.#registry.leave(clientId)
  }

  /**
   * A heartbeat's cache size, and the most its cache holds (if it says): the
   * next deliveries' cost estimates use them.
   */
  report(clientId: string, entries: number, capacity?: number): void {
    checkClientId(clientId)
    checkEntries(entries)
    if (capacity !== undefined && !(Number.isSafeInteger(capacity) && capacity >= 1))
      throw new InvalidOptionError('capacity', 'an integer >= 1', capacity)
    this.#registry.report(clientId, entries, this.#seq, capacity)
  }

  /**
   * Refetch tokens (B2): up to `min(want, leases.maxBatch)` whole tokens,
   * valid for `leases.ttlMs`. While other clients ask too, at least this
   * client's fair share of the class's rate, and beyond it only what the
   * others leave (see gcraGrantShare).
   */
  lease(clientId: string, want: number, budgetClass: BudgetClass = 'invalidate'): LeaseGrant {
    this.#open()
    checkClientId(clientId)
    if (!Number.isInteger(want) || want < 1) {
      throw new InvalidOptionError('want', 'an integer >= 1', want)
    }
    const grant = this.#budgets.grant(
      budgetClass,
      Math.min(want, this.config.leases.maxBatch),
      clientId,
    )
    return {
      granted: grant.granted,
      ttlMs: this.config.leases.ttlMs,
      retryAfterMs: grant.retryAfterMs,
    }
  }

  /**
   * Was rewarm `changeId` sent to `clientId`, and is its rollout known and
   * over for at most `maxAgeMs`? Only then is a checkpoint of it kept (a
   * client cannot make the store keep one for a change it never got).
   */
  sentRewarm(changeId: string, clientId: string, maxAgeMs: number): boolean {
    const r = this.#rollouts.get(changeId)
    if (r?.change.kind !== 'rewarm' || !r.delivered.has(clientId)) return false
    return r.endedAt === undefined || this.clock.now() - r.endedAt <= maxAgeMs
  }

  // ---- state ---------------------------------------------------------------

  snapshot(): EngineSnapshot {
    return this.#snapshot(true)
  }

  #snapshot(full: boolean): EngineSnapshot {
    return takeSnapshot(this.#parts, this.#seq, full)
  }

  /**
   * The parts a replicated store saves after each step, cheaply: a rollout
   * without its delivered set and queue (those are saved as they grow).
   */
  rolloutSummary(id: string): RolloutSnapshot {
    return rolloutToSnapshot(this.#find(id), { sets: false })
  }

  /** Everything in a snapshot but the clients and the rollouts. */
  snapshotHead(): Omit<EngineSnapshot, 'clients' | 'rollouts'> {
    const { clients: _c, rollouts: _r, ...head } = this.#snapshot(false)
    return head
  }

  /** Stop every timer; the engine can no longer be used. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const r of this.#rollouts.values()) r.cancelTimer()
    this.#budgets.close()
  }

  // ---- internals -----------------------------------------------------------

  #open(): void {
    if (this.#closed) throw new ClosedError('engine')
  }

  #find(id: string): Rollout {
    this.#open()
    const r = this.#rollouts.get(id)
    if (!r) throw new UnknownRolloutError(id)
    return r
  }

  #budget(r: Rollout): ClassBudget {
    return this.#budgets.get(r.budgetClass)
  }

  #cost(r: Rollout, clientId: string): number {
    const client = this.#registry.get(clientId)
    return deliveryCost(
      r.change,
      client?.entries ?? this.config.defaultEntries,
      client?.capacity,
      this.#budget(r).pacer.bucket.params.burst,
    )
  }

  #newChange(fields: Omit<Change, 'id' | 'seq' | 'submittedAt'>): Change {
    const seq = ++this.#seq
    const id = changeId(seq, this.#epoch)
    return Object.freeze({ id, seq, ...fields, submittedAt: this.clock.now() })
  }

  #create(
    change: Change,
    identity: string,
    steps: readonly number[],
    bakeMs: number,
    audience?: Set<string>,
  ) {
    const waves = planWaves(steps, this.config.shards)
    const r = new Rollout(
      change,
      budgetClassOf(change),
      waves,
      bakeMs,
      this.config.shards,
      identity,
      this.clock.now(),
      audience,
    )
    if (change.kind === 'config')
      this.#config.created(r, (earlier, keys) =>
        this.#opts.onEvent?.({
          type: 'superseded',
          rolloutId: earlier.id,
          by: r.id,
          keys,
          at: this.clock.now(),
        }),
      )
    this.#rollouts.add(r)
    for (const gone of this.#rollouts.prune(this.config.retainFinished)) this.#config.forget(gone)
    return r
  }

  #coalesce(
    r: Rollout,
    by: 'idempotencyKey' | 'target',
    key: string | undefined,
    digest: string,
  ): SubmitResult {
    r.coalesced++
    this.#rollouts.remember(key, r.id, digest)
    this.#opts.onEvent?.({ type: 'coalesced', rolloutId: r.id, by, at: this.clock.now() })
    return { rollout: r.view(), coalesced: by }
  }

  #restore(snap: EngineSnapshot): void {
    this.#seq = snap.seq
    restoreSnapshot({ ...this.#parts, life: this.#life }, snap)
  }
}

/** The firstSeq of a client that was in the fleet before this engine's state began: before every change. */
const PREDATES = -1

const checkClientId = (id: unknown): void => {
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
    throw new InvalidOptionError('clientId', 'a string of 1 to 200 characters', id)
  }
}

const checkEntries = (n: unknown): void => {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new InvalidOptionError('entries', 'an integer >= 0', n)
  }
}

export type { Delivery }

/**
 * A replica's standing in the fleet, through the shared store: alive (its
 * liveness renewed each tick), following or leading (elected by a lease
 * with a fencing token; the leader runs the engine, rebuilt from the store
 * when it takes over), and in the fleet's epoch. Any store failure on the
 * leader stops its engine (crash-only): it rebuilds from the store when it
 * can lead again, so what clients got and what the store says never diverge.
 *
 * Each tick also checks that the store still holds the fleet's epoch. If it
 * lost its state (a Redis back empty), the replica takes the new epoch
 * (whoever sets it first wins: every replica converges on it), moves its
 * streams to it in place and registers them again; after a store outage of
 * any kind it registers them again too, and waits a lease before leading,
 * so the engine it builds sees every client still connected.
 */
import { type Config, liveFields } from '../../config/schema.js'
import { pacedBy } from '../../gates/pacing.js'
import type { Engine } from '../../invalidation/engine.js'
import { newEpoch } from '../../invalidation/ids.js'
import type { GcraParams } from '../../limiter/gcra.js'
import type { TokenClass } from '../../model/budget.js'
import type { Store } from '../../store/store.js'
import type { BusinessWatch } from '../business.js'
import { onDelivered } from '../delivered.js'
import { type CoordinatorGates, runtimeGates } from '../gates.js'
import type { Readiness, RuntimeParts } from '../runtime.js'
import { businessWatch, heldRampsOf } from '../runtime.js'
import type { ClientRecords } from './client-records.js'
import { consumeFleetEvents } from './consume.js'
import { reapDeparted } from './fleet-events.js'
import type { Persister } from './persister.js'
import { STATE } from './restore.js'
import { SharedPacing } from './shared-pacing.js'
import { Streams } from './streams.js'
import { beginTerm, spendBudgets } from './term.js'

export interface LeadershipOptions extends RuntimeParts {
  /** This replica's id (its liveness, its leader lease and its clients' presence name it). */
  readonly id: string
  readonly store: Store
  /** Connect to the store (before anything else at start; a failure is the caller's to retry). */
  readonly connect?: (() => Promise<unknown>) | undefined
  /** Leader lease, ms; failover happens within it. */
  readonly leaseMs: number
  /** A token class's budget now (the store's buckets start spent in a new epoch). */
  readonly tokenBudget: (cls: TokenClass) => GcraParams
}

export class Leadership {
  #engine: Engine | undefined
  #persister: Persister | undefined
  #clients: ClientRecords | undefined
  #gates: CoordinatorGates | undefined
  #business: BusinessWatch | undefined
  /** Which clients the gates pace and which ramps stand still, as the leader published them. */
  readonly #shared = new SharedPacing()
  readonly #leaderHeld: () => readonly string[]
  #fence = 0
  /**
   * Counts this replica's terms as leader: what a term started (its commits, its event
   * consumer) checks it is still that term (a fence alone repeats: tokens start again
   * in a store that lost its state).
   */
  #term = 0
  #closed = false
  #started = false
  #timer: NodeJS.Timeout | undefined
  #leading = false
  #sharedConfig: string | undefined
  #rewarmRate: number | undefined
  /** Why the store could not be reached at the last tick (or start); undefined: it could. */
  #down: string | undefined
  /** A move to a new epoch in progress (catch-ups wait for it). */
  #moving: Promise<void> | undefined
  /** Streams to register again in presence (after a loss or an outage), until done. */
  #unregistered: { readonly ids: readonly string[]; readonly old: boolean } | undefined
  /** Not before this (ms): after a loss or an outage, the other replicas register their streams first. */
  #leadAfter = 0
  readonly streams: Streams
  readonly #loops: Promise<void>[] = []

  constructor(private readonly o: LeadershipOptions) {
    this.#leaderHeld = heldRampsOf(() => this.#engine, o.clock)
    this.streams = new Streams({
      id: o.id,
      store: o.store,
      signer: o.signer,
      hub: o.hub,
      fleet: o.fleet,
      now: () => o.clock.now(),
      closed: () => this.#closed,
      settle: () => this.#settle(),
      moving: () => this.#moving !== undefined,
      foreign: () => this.#settle(),
    })
  }

  get leading(): boolean {
    return this.#leading
  }

  get engine(): Engine | undefined {
    return this.#engine
  }

  /** The business watch, while this replica leads (with `watch` config). */
  get business(): BusinessWatch | undefined {
    return this.#business
  }

  /** The gates, while this replica leads. */
  get gates(): CoordinatorGates | undefined {
    return this.#gates
  }

  /** Config keys whose ramps stand still: the leader's engine says; a follower, what it published. */
  heldRamps(): readonly string[] {
    return this.#engine ? this.#leaderHeld() : this.#shared.heldKeys
  }

  /**
   * The heartbeat interval to ask of a client: the leader's gates decide
   * (exactly, for the clients they compare); a follower applies the rule the
   * leader published at its last tick.
   */
  heartbeatMs(clientId: string): number | undefined {
    const fast = this.o.current().gates.heartbeatMs
    if (this.#gates) return this.#gates.heartbeatMs(clientId)
    return pacedBy(this.#shared.rules, clientId) ? fast : undefined
  }

  /** Connect and start; throws (StoreUnavailableError) if the store cannot be reached: try again. */
  async start(): Promise<void> {
    if (this.#started || this.#closed) return
    try {
      await this.o.connect?.()
      // Alive before any stream of ours is in presence: a leader reaps the clients of replicas
      // it does not see alive, and one that started a moment ago would look dead.
      await this.o.store.heartbeatReplica(this.o.id, this.o.clock.now() + 2 * this.o.leaseMs)
      // The fleet's epoch lives in the store: every replica signs with it, and a new one starts
      // when the store's state is lost.
      this.o.signer.epoch = await this.o.store.epoch(this.#candidate())
      await this.streams.start()
    } catch (error) {
      this.#down = (error as Error).message
      throw error
    }
    this.#down = undefined
    this.#started = true
    await this.#tick()
    this.#loops.push(this.streams.tail())
  }

  /**
   * Ready when this replica reaches its store (at its last tick and now) and
   * knows a leader: the API would answer 503 otherwise.
   */
  async readiness(): Promise<Readiness> {
    if (!this.#started) return { ready: false, reason: this.#down ?? 'connecting to the store' }
    if (this.#down !== undefined) return { ready: false, reason: this.#down }
    if (this.#moving || this.#unregistered)
      return {
        ready: false,
        reason: 'registering its streams again after the store lost its state',
      }
    if (this.#leading) return { ready: true }
    try {
      if (!(await this.o.store.leader()))
        return { ready: false, reason: 'no replica leads the fleet' }
    } catch (error) {
      return { ready: false, reason: (error as Error).message }
    }
    return { ready: true }
  }

  setRewarmRate(ratePerSec: number): void {
    if (!this.#leading) return
    this.#rewarmRate = ratePerSec
    this.#persister?.set(STATE.rewarmRate, String(ratePerSec))
  }

  /** The leader's config changed (PUT /v1/config): share its live parts (no secrets) with the followers. */
  shareConfig(config: Config): void {
    const json = JSON.stringify(Object.fromEntries(liveFields.map((f) => [f, config[f]])))
    this.#sharedConfig = json
    this.#persister?.set(STATE.config, json)
  }

  get closed(): boolean {
    return this.#closed
  }

  /** The leader's adaptive rewarm rate, as the leader set it or a follower last read it. */
  get rewarmRate(): number | undefined {
    return this.#rewarmRate
  }

  async durable(): Promise<void> {
    await this.#persister?.durable()
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    if (this.#leading) {
      await this.#persister?.durable().catch(() => {})
      await this.o.store.releaseLeader(this.o.id, this.#fence).catch(() => {})
    }
    this.#stop('closing')
    await this.o.store.heartbeatReplica(this.o.id, 0).catch(() => {})
  }

  async #tick(): Promise<void> {
    if (this.#closed) return
    const { store, leaseMs } = this.o
    try {
      await store.heartbeatReplica(this.o.id, this.o.clock.now() + 2 * leaseMs)
      await this.#settle()
      if (this.#down !== undefined) {
        // Back after an outage, its state kept: a leader may have let this replica's clients
        // go meanwhile (its liveness ran out), so they are registered again.
        this.#unregistered ??= { ids: this.streams.settled(), old: false }
        this.#leadAfter = Math.max(this.#leadAfter, this.o.clock.now() + leaseMs)
        this.#down = undefined
      }
      const again = this.#unregistered
      if (again) {
        await this.streams.register(again.ids, again.old)
        if (this.#unregistered === again) this.#unregistered = undefined
      }
      if (this.#leading) {
        if (!(await store.renewLeader(this.o.id, this.#fence, leaseMs, this.o.clock.now())))
          this.#stop('lost the leader lease')
        else if (this.#engine) {
          await reapDeparted(this.#engine, store, this.o.clock.now())
          this.#sharePacing()
        }
      } else {
        const rate = await store.stateField(STATE.rewarmRate)
        if (rate !== undefined) this.#rewarmRate = Number(rate)
        await this.#shared.read(store)
        const shared = await store.stateField(STATE.config)
        if (shared && shared !== this.#sharedConfig) {
          this.#sharedConfig = shared
          this.o.adopt({ ...this.o.current(), ...(JSON.parse(shared) as Partial<Config>) })
        }
        if (this.o.clock.now() >= this.#leadAfter) {
          const fence = await store.acquireLeader(this.o.id, leaseMs, this.o.clock.now())
          if (fence > 0) await this.#lead(fence)
        }
      }
    } catch (error) {
      this.#down = (error as Error).message
      if (this.#leading) this.#stop(`store unavailable: ${(error as Error).message}`)
    }
    if (!this.#closed) this.#timer = setTimeout(() => void this.#tick(), leaseMs / 3)
  }

  /**
   * Any move to a new epoch over, and the store still holding ours: if it
   * holds another (or none: this replica's candidate becomes it), the state
   * was lost, and this replica moves to the epoch in force.
   */
  async #settle(): Promise<void> {
    for (;;) {
      while (this.#moving) await this.#moving
      const ours = this.o.signer.epoch
      const candidate = this.#candidate()
      const epoch = await this.o.store.epoch(candidate)
      // A move began (or ended) meanwhile: what the store said is of before it; ask again.
      if (this.#moving || this.o.signer.epoch !== ours) continue
      if (epoch === ours) return
      this.#moving ??= this.#move(epoch, epoch === candidate).finally(() => {
        this.#moving = undefined
      })
    }
  }

  /**
   * The store lost the fleet's state: stop leading (the engine's state is
   * gone with it), take the new epoch, move every stream here to it in place,
   * and register them again (at this tick or, if the store fails, the next).
   * Leading waits a lease, so the next engine starts with every replica's
   * clients in presence; one registered later still joins it (as predating
   * the epoch: every change of it concerns it).
   */
  async #move(epoch: string, first: boolean): Promise<void> {
    const was = this.o.signer.epoch
    this.#stop(`the store lost the fleet's state (epoch ${was} is gone)`)
    this.#leadAfter = this.o.clock.now() + this.o.leaseMs
    if (first) await this.#spent()
    const moved = await this.streams.move(epoch, was)
    this.#unregistered = { ids: moved, old: true }
    this.o.notice(
      `slew: replica ${this.o.id}: the store lost the fleet's state (epoch ${was} is gone); now epoch ${epoch}: ${moved.length} streams moved to it in place`,
    )
  }

  /** The store's budgets start spent in a new epoch (see spendBudgets). */
  #spent(): Promise<void> {
    const budgets = (['invalidate', 'rewarm', 'urgent'] as const).map(
      (cls) => [`${cls}:tokens`, this.o.tokenBudget(cls)] as const,
    )
    const admission = ['admission', this.o.current().admission] as const
    return spendBudgets(this.o.store, [...budgets, admission], this.o.clock.now())
  }

  #candidate(): string {
    return newEpoch(this.o.clock.now(), this.o.random)
  }

  async #lead(fence: number): Promise<void> {
    const term = ++this.#term
    // The state read is of this epoch; if the store loses it meanwhile, this term ends there.
    const epoch = this.o.signer.epoch
    const t = await beginTerm({
      ...this.o,
      fence,
      epoch,
      config: this.o.current(),
      gates: (engine, persister) =>
        runtimeGates(
          this.o,
          engine,
          function* () {
            for (const c of engine()?.clients() ?? []) if (c.live) yield c.id
          },
          (id, state) => {
            // A rollout pruned meanwhile keeps no gate.
            if (
              engine()
                ?.list()
                .some((r) => r.id === id)
            )
              persister.set(STATE.gate(id), JSON.stringify(state))
            // Which clients are paced changes with the gates: in the same commit, not a tick later.
            if (this.#engine) this.#sharePacing()
          },
        ),
      delivered: onDelivered(this.o.fleet, this.o.metrics),
      current: () => this.o.signer.epoch === epoch && this.#term === term && !this.#closed,
      failed: (error) => {
        if (this.#term === term) this.#stop(`a commit failed: ${(error as Error).message}`)
      },
    })
    if (!t) return
    this.#clients = t.clients
    this.#engine = t.engine
    this.#gates = t.gates
    // The watch's models go on from the history the last leader kept (its season, its recent seconds).
    this.#business = businessWatch(this.o, () => this.#engine, {
      kept: t.watchHistory,
      persist: (metric, history) => t.persister.set(STATE.watch(metric), JSON.stringify(history)),
      keptIncidents: t.incidents,
      persistIncidents: (incidents) => t.persister.set(STATE.incidents, JSON.stringify(incidents)),
    })
    // What the last leader published is written over with this term's first commit, whatever
    // it was (not at a later tick: the state a new leader starts from is settled at once).
    this.#shared.forget()
    this.#persister = t.persister
    this.#fence = fence
    this.#leading = true
    t.persister.set(STATE.leaderUrl, this.o.url() ?? '')
    this.#sharePacing()
    this.o.notice(
      `slew: replica ${this.o.id} leads (fence ${fence}), ${t.restored} rollouts restored`,
    )
    const live = () => this.#leading && this.#term === term && !this.#closed
    this.#loops.push(
      consumeFleetEvents({
        store: this.o.store,
        after: t.lastEvent,
        self: this.o.id,
        fleet: this.o.fleet,
        now: () => this.o.clock.now(),
        notice: this.o.notice,
        term: () => {
          const engine = this.#engine
          const clients = this.#clients
          const gates = this.#gates
          const business = this.#business
          return live() && engine && clients ? { engine, clients, gates, business } : undefined
        },
      }),
    )
  }

  /** The leader shares which clients its gates pace, and which ramps stand still, when they changed. */
  #sharePacing(): void {
    const persister = this.#persister
    this.#shared.publish(
      this.#gates?.paceRules() ?? [],
      this.#leaderHeld(),
      persister && ((field, json) => persister.set(field, json)),
    )
  }

  /** Stop leading: drop the engine; its state is whatever the store committed. */
  #stop(reason: string): void {
    if (!this.#leading) return
    this.#leading = false
    this.#gates?.close()
    this.#gates = undefined
    this.#business?.close()
    this.#business = undefined
    this.#engine?.close()
    this.#engine = undefined
    this.#persister = undefined
    this.#clients = undefined
    if (!this.#closed) this.o.notice(`slew: replica ${this.o.id} stops leading: ${reason}`)
  }
}

/**
 * One coordinator replica on a shared Redis store. Every replica admits
 * streams (B3) and grants refetch tokens (B2) through the store, streams the
 * change log to its own clients, and reports their presence; one of them,
 * elected by a lease with a fencing token, also runs the engine, rebuilt from
 * the store when it takes over. Any store failure on the leader stops its
 * engine (crash-only): it rebuilds from the store when it can lead again, so
 * what clients got and what the store says never diverge.
 *
 * Each tick also checks that the store still holds the fleet's epoch. If it
 * lost its state (a Redis back empty), the replica takes the new epoch
 * (whoever sets it first wins: every replica converges on it), moves its
 * streams to it in place and registers them again; after a store outage of
 * any kind it registers them again too, and waits a lease before leading,
 * so the engine it builds sees every client still connected.
 */
import { hostname } from 'node:os'
import { type Config, liveFields } from '../../config/schema.js'
import { tokenParams } from '../../invalidation/budgets.js'
import {
  type Delivery,
  Engine,
  type GateContext,
  type GateResult,
} from '../../invalidation/engine.js'
import { newEpoch } from '../../invalidation/ids.js'
import type { Clock } from '../../limiter/clock.js'
import type { GcraParams } from '../../limiter/gcra.js'
import type { Heartbeat } from '../../protocol/messages.js'
import type { Store } from '../../store/store.js'
import type { Admission, AdmissionDecision } from '../admission.js'
import { onDelivered } from '../delivered.js'
import type { FleetTracker } from '../fleet.js'
import type { StreamHub } from '../hub.js'
import type { Signer } from '../log.js'
import type { Metrics } from '../metrics.js'
import type { FleetMember, Readiness, Runtime, StreamOpen, TokenClass } from '../runtime.js'
import { ackedSeqs, ClientRecords } from './client-records.js'
import { loadDeliveries } from './delivery-records.js'
import {
  applyFleetEvent,
  type FleetEvent,
  heartbeatEvent,
  reapDeparted,
  resyncFleet,
} from './fleet-events.js'
import { Persister } from './persister.js'
import { loadSnapshot, type PresenceRecord, STATE } from './restore.js'
import { Streams } from './streams.js'

export interface ReplicaOptions {
  readonly store: Store
  /** Connect to the store (before anything else at start; a failure is the caller's to retry). */
  readonly connect?: () => Promise<unknown>
  readonly config: () => Config
  readonly engineConfig: (c: Config) => ConstructorParameters<typeof Engine>[0]['config']
  /** Signs stream messages (and counts them). */
  readonly signer: Signer
  readonly clock: Clock
  readonly random: () => number
  readonly hub: StreamHub
  readonly fleet: FleetTracker
  readonly metrics: Metrics
  /** The coordinator's admission (its promise schedule spreads refused clients). */
  readonly admission: Admission
  /** The leader's live config changes, seen by a follower. */
  readonly adopt: (config: Config) => void
  readonly gate?: (ctx: GateContext) => GateResult
  /** This replica's URL, once listening (followers proxy engine routes to the leader's). */
  readonly url: () => string | undefined
  /** Leader lease, ms; failover happens within it. */
  readonly leaseMs: number
  readonly notice: (line: string) => void
}

const TAIL_BLOCK_MS = 1000
/** How old the fleet size a heartbeat is answered with may be (counting reads every presence record). */
const FLEET_SIZE_MAX_AGE_MS = 1000

export class Replica implements Runtime {
  readonly kind = 'redis' as const
  readonly id = `${hostname()}-${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`
  #engine: Engine | undefined
  #persister: Persister | undefined
  #clients: ClientRecords | undefined
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
  #fleetSize: { at: number; n: Promise<number> } | undefined
  /** Why the store could not be reached at the last tick (or start); undefined: it could. */
  #down: string | undefined
  /** A move to a new epoch in progress (catch-ups wait for it). */
  #moving: Promise<void> | undefined
  /** Streams to register again in presence (after a loss or an outage), until done. */
  #unregistered: { readonly ids: readonly string[]; readonly old: boolean } | undefined
  /** Not before this (ms): after a loss or an outage, the other replicas register their streams first. */
  #leadAfter = 0
  readonly #streams: Streams
  readonly #delivered: (d: Delivery, seq: number) => void
  readonly #loops: Promise<void>[] = []

  constructor(private readonly o: ReplicaOptions) {
    this.#delivered = onDelivered(o.fleet, o.metrics)
    this.#streams = new Streams({
      id: this.id,
      store: o.store,
      signer: o.signer,
      hub: o.hub,
      fleet: o.fleet,
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

  /** Connect and start; throws (StoreUnavailableError) if the store cannot be reached: try again. */
  async start(): Promise<void> {
    if (this.#started || this.#closed) return
    try {
      await this.o.connect?.()
      // Alive before any stream of ours is in presence: a leader reaps the clients of replicas
      // it does not see alive, and one that started a moment ago would look dead.
      await this.o.store.heartbeatReplica(this.id, Date.now() + 2 * this.o.leaseMs)
      // The fleet's epoch lives in the store: every replica signs with it, and a new one starts
      // when the store's state is lost.
      this.o.signer.epoch = await this.o.store.epoch(this.#candidate())
      await this.#streams.start()
    } catch (error) {
      this.#down = (error as Error).message
      throw error
    }
    this.#down = undefined
    this.#started = true
    await this.#tick()
    this.#loops.push(this.#streams.tail())
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

  async leaderUrl(): Promise<string | undefined> {
    if (this.#leading) return this.o.url()
    return this.o.store.stateField(STATE.leaderUrl)
  }

  async admit(): Promise<AdmissionDecision> {
    const p = this.o.config().admission
    const r = await this.o.store.take('admission', p, 1, this.o.clock.now())
    if (r.ok) return { admitted: true, retryAfterMs: 0 }
    // Refused: promised a slot of its own on this replica's schedule (see Admission).
    return { admitted: false, retryAfterMs: this.o.admission.promise(r.retryAfterMs) }
  }

  connected(open: StreamOpen): Promise<void> {
    return this.#streams.connected(open)
  }

  disconnected(clientId: string): void {
    if (!this.#closed) this.#streams.disconnected(clientId)
  }

  /** Refetch tokens (B2) from the store's bucket, in fair shares among the clients asking fleet-wide. */
  async lease(clientId: string, want: number, cls: TokenClass) {
    const c = this.o.config()
    const g = await this.o.store.grantShare(
      `${cls}:tokens`,
      clientId,
      this.tokenBudget(cls),
      Math.min(want, c.leases.maxBatch),
      this.o.clock.now(),
    )
    return { granted: g.granted, ttlMs: c.leases.ttlMs, retryAfterMs: g.retryAfterMs }
  }

  tokenBudget(cls: TokenClass): GcraParams {
    const params = this.o.config().budgets[cls]
    if (cls !== 'rewarm' || this.#rewarmRate === undefined) return params
    // The leader's adaptive rate, as the engine's setTokenRate applies it.
    return tokenParams(params, this.#rewarmRate)
  }

  setRewarmRate(ratePerSec: number): void {
    if (!this.#leading) return
    this.#rewarmRate = ratePerSec
    this.#persister?.set(STATE.rewarmRate, String(ratePerSec))
  }

  async heartbeat(clientId: string, hb: Heartbeat): Promise<void> {
    this.o.fleet.heartbeat(clientId, hb, this.o.clock.now())
    // What the leader reads of it, no more: business metrics stay here.
    await this.o.store.publish(heartbeatEvent(clientId, hb, this.id))
  }

  async sentRewarm(changeId: string, clientId: string, maxAgeMs: number): Promise<boolean> {
    const engine = this.#engine
    if (this.#leading && engine) return engine.sentRewarm(changeId, clientId, maxAgeMs)
    // A follower: the delivered set the leader commits with each delivery.
    return this.o.store.isMember(STATE.delivered(changeId), clientId)
  }

  /** Counted from the store at most once per FLEET_SIZE_MAX_AGE_MS, however many heartbeats ask. */
  fleetSize(): Promise<number> {
    const now = Date.now()
    if (this.#fleetSize === undefined || now - this.#fleetSize.at >= FLEET_SIZE_MAX_AGE_MS) {
      const n = this.fleet().then((m) => m.length)
      const counted = { at: now, n }
      this.#fleetSize = counted
      n.catch(() => {
        // A failed count is not kept: the next one asks the store again.
        if (this.#fleetSize === counted) this.#fleetSize = undefined
      })
    }
    return this.#fleetSize.n
  }

  async fleet(): Promise<FleetMember[]> {
    const [presence, replicas] = await Promise.all([
      this.o.store.presence(),
      this.o.store.replicas(),
    ])
    const now = Date.now()
    const out: FleetMember[] = []
    for (const [clientId, raw] of Object.entries(presence)) {
      const p = JSON.parse(raw) as PresenceRecord
      if ((replicas[p.r] ?? 0) > now) out.push({ clientId, replica: p.r, connectedAt: p.at })
    }
    return out
  }

  /** The leader's config changed (PUT /v1/config): share its live parts (no secrets) with the followers. */
  shareConfig(config: Config): void {
    const json = JSON.stringify(Object.fromEntries(liveFields.map((f) => [f, config[f]])))
    this.#sharedConfig = json
    this.#persister?.set(STATE.config, json)
  }

  async durable(): Promise<void> {
    await this.#persister?.durable()
  }

  seq(): number {
    return this.#streams.seq
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    if (this.#leading) {
      await this.#persister?.durable().catch(() => {})
      await this.o.store.releaseLeader(this.id, this.#fence).catch(() => {})
    }
    this.#stop('closing')
    await this.o.store.heartbeatReplica(this.id, 0).catch(() => {})
  }

  // ---- leadership ------------------------------------------------------------

  async #tick(): Promise<void> {
    if (this.#closed) return
    const { store, leaseMs } = this.o
    try {
      await store.heartbeatReplica(this.id, Date.now() + 2 * leaseMs)
      await this.#settle()
      if (this.#down !== undefined) {
        // Back after an outage, its state kept: a leader may have let this replica's clients
        // go meanwhile (its liveness ran out), so they are registered again.
        this.#unregistered ??= { ids: this.#streams.settled(), old: false }
        this.#leadAfter = Math.max(this.#leadAfter, Date.now() + leaseMs)
        this.#down = undefined
      }
      const again = this.#unregistered
      if (again) {
        await this.#streams.register(again.ids, again.old)
        if (this.#unregistered === again) this.#unregistered = undefined
      }
      if (this.#leading) {
        if (!(await store.renewLeader(this.id, this.#fence, leaseMs, this.o.clock.now())))
          this.#stop('lost the leader lease')
        else if (this.#engine) await reapDeparted(this.#engine, this.o.store)
      } else {
        const rate = await store.stateField(STATE.rewarmRate)
        if (rate !== undefined) this.#rewarmRate = Number(rate)
        const shared = await store.stateField(STATE.config)
        if (shared && shared !== this.#sharedConfig) {
          this.#sharedConfig = shared
          this.o.adopt({ ...this.o.config(), ...(JSON.parse(shared) as Partial<Config>) })
        }
        if (Date.now() >= this.#leadAfter) {
          const fence = await store.acquireLeader(this.id, leaseMs, this.o.clock.now())
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
    this.#leadAfter = Date.now() + this.o.leaseMs
    if (first) await this.#spent()
    const moved = await this.#streams.move(epoch, was)
    this.#unregistered = { ids: moved, old: true }
    this.o.notice(
      `slew: replica ${this.id}: the store lost the fleet's state (epoch ${was} is gone); now epoch ${epoch}: ${moved.length} streams moved to it in place`,
    )
  }

  /**
   * The store's own budgets (refetch tokens, B2; admission, B3) start spent in
   * a new epoch, as the engine's do (coldStart): their burst may have gone out
   * just before the state was lost. Set by the replica that began the epoch;
   * a bucket used since is left as it is.
   */
  async #spent(): Promise<void> {
    const now = this.o.clock.now()
    const budgets: [string, GcraParams][] = [
      ...(['invalidate', 'rewarm', 'urgent'] as const).map(
        (cls) => [`${cls}:tokens`, this.tokenBudget(cls)] as [string, GcraParams],
      ),
      ['admission', this.o.config().admission],
    ]
    for (const [bucket, p] of budgets) await this.o.store.take(bucket, p, p.burst, now)
  }

  #candidate(): string {
    return newEpoch(Date.now(), this.o.random)
  }

  async #lead(fence: number): Promise<void> {
    const { store, config, clock } = this.o
    const term = ++this.#term
    // The state read below is of this epoch; if the store loses it meanwhile, this term ends here.
    const epoch = this.o.signer.epoch
    const c = config()
    const lastEvent = await store.lastEventId()
    const { snapshot, records } = await loadSnapshot(store, c.fleet, clock.now())
    const deliveries = await loadDeliveries(
      store,
      new Set(snapshot.rollouts.map((r) => r.change.id)),
    )
    const bounds = await store.bounds()
    // Without buckets in the store (a new fleet, or its state lost), assume they were spent.
    const coldStart = !(await store.stateField(STATE.head))
    if (this.o.signer.epoch !== epoch || this.#term !== term || this.#closed) return
    // Acked counts go on from where the last leader left them, before anything is delivered.
    this.o.fleet.restore(deliveries, ackedSeqs(records))
    const persister = new Persister({
      store,
      fence,
      epoch,
      signer: this.o.signer,
      logMaxLength: c.log.maxEntries,
      lastSeq: bounds.last,
      failed: (error) => {
        if (this.#term === term) this.#stop(`a commit failed: ${(error as Error).message}`)
      },
    })
    const engine = new Engine({
      clock,
      config: this.o.engineConfig(c),
      epoch,
      coldStart,
      snapshot,
      ...(this.o.gate && { gate: this.o.gate }),
      deliver: (d) => this.#delivered(d, persister.deliver(d)),
      onEvent: (e) => persister.touch(e.rolloutId),
    })
    persister.engine = engine
    this.#clients = new ClientRecords(engine, records, (id, r) => persister.client(id, r))
    this.#engine = engine
    this.#persister = persister
    this.#fence = fence
    this.#leading = true
    persister.set(STATE.leaderUrl, this.o.url() ?? '')
    this.o.notice(
      `slew: replica ${this.id} leads (fence ${fence}), ${snapshot.rollouts.length} rollouts restored`,
    )
    this.#loops.push(this.#consume(lastEvent, term))
  }

  /** Stop leading: drop the engine; its state is whatever the store committed. */
  #stop(reason: string): void {
    if (!this.#leading) return
    this.#leading = false
    this.#engine?.close()
    this.#engine = undefined
    this.#persister = undefined
    this.#clients = undefined
    if (!this.#closed) this.o.notice(`slew: replica ${this.id} stops leading: ${reason}`)
  }

  /** The leader applies what replicas report: joins, leaves, heartbeats. */
  async #consume(after: string, term: number): Promise<void> {
    let last = after
    while (this.#leading && this.#term === term && !this.#closed) {
      let events: { id: string; event: string }[]
      try {
        events = await this.o.store.events(last, 500, TAIL_BLOCK_MS)
      } catch {
        await new Promise((r) => setTimeout(r, 200))
        continue
      }
      // Trimmed past what this leader read (it lagged more than EVENTS_KEPT events): some
      // joins or leaves may be lost, so who is connected is read again after this batch.
      let lost = false
      if (events.length > 0) {
        try {
          lost = compareEventIds(await this.o.store.firstEventId(), last) > 0
        } catch {
          lost = true
        }
      }
      const engine = this.#engine
      const clients = this.#clients
      if (!engine || !clients || this.#term !== term) return
      for (const { id, event } of events) {
        last = id
        let e: FleetEvent
        try {
          e = JSON.parse(event) as FleetEvent
        } catch {
          continue
        }
        applyFleetEvent(e, {
          engine,
          clients,
          self: this.id,
          fleet: this.o.fleet,
          now: this.o.clock.now(),
        })
      }
      while (lost && this.#term === term && this.#engine === engine && !this.#closed) {
        try {
          const { joined, left } = await resyncFleet(engine, clients, this.o.store)
          this.o.notice(
            `slew: replica ${this.id}: the events stream was trimmed past what the leader read; who is connected was read again from presence (${joined} joined, ${left} left)`,
          )
          lost = false
        } catch {
          await new Promise((r) => setTimeout(r, 200))
        }
      }
    }
  }
}

/** Stream ids (`<ms>-<seq>`) in order: negative, zero or positive. */
const compareEventIds = (a: string, b: string): number => {
  const [am = 0, as = 0] = a.split('-').map(Number)
  const [bm = 0, bs = 0] = b.split('-').map(Number)
  return am - bm || as - bs
}

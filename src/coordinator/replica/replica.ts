/**
 * One coordinator replica on a shared Redis store. Every replica admits
 * streams (B3) and grants refetch tokens (B2) through the store, streams the
 * change log to its own clients, and reports their presence; one of them,
 * elected by a lease with a fencing token, also runs the engine, rebuilt from
 * the store when it takes over. Any store failure on the leader stops its
 * engine (crash-only): it rebuilds from the store when it can lead again, so
 * what clients got and what the store says never diverge.
 */
import { hostname } from 'node:os'
import { type Config, liveFields } from '../../config/schema.js'
import { Engine, type GateContext, type GateResult } from '../../invalidation/engine.js'
import { newEpoch } from '../../invalidation/ids.js'
import type { Clock } from '../../limiter/clock.js'
import type { GcraParams } from '../../limiter/gcra.js'
import { configDigest, type Heartbeat } from '../../protocol/messages.js'
import type { Store } from '../../store/store.js'
import type { Admission, AdmissionDecision } from '../admission.js'
import { catchUp, type LogPosition, predates } from '../catch-up.js'
import { ConfigFrames } from '../config-frame.js'
import type { FleetTracker } from '../fleet.js'
import type { StreamHub } from '../hub.js'
import type { Signer } from '../log.js'
import { helloFrame } from '../log.js'
import type { Metrics } from '../metrics.js'
import type { FleetMember, Runtime, StreamOpen, TokenClass } from '../runtime.js'
import { ackedSeqs, ClientRecords } from './client-records.js'
import { loadDeliveries } from './delivery-records.js'
import { applyFleetEvent, type FleetEvent, reapDeparted } from './fleet-events.js'
import { Persister, type SignableMessage, signToJson } from './persister.js'
import { loadSnapshot, type PresenceRecord, STATE } from './restore.js'

export interface ReplicaOptions {
  readonly store: Store
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
  #tailSeq = 0
  #closed = false
  #timer: NodeJS.Timeout | undefined
  #leading = false
  #sharedConfig: string | undefined
  #rewarmRate: number | undefined
  #fleetSize: { at: number; n: Promise<number> } | undefined
  /** The stable config last read from the store, by its digest, and its signed frame. */
  #stable: { digest: string; values: Record<string, unknown> } | undefined
  readonly #configFrames = new ConfigFrames()
  /** Clients being caught up: live frames wait here so none overtakes the replay. */
  readonly #holding = new Map<string, [number, string][]>()
  readonly #loops: Promise<void>[] = []

  constructor(private readonly o: ReplicaOptions) {}

  get leading(): boolean {
    return this.#leading
  }

  get engine(): Engine | undefined {
    return this.#engine
  }

  async start(): Promise<void> {
    // The fleet's epoch lives in the store: every replica signs with it, and a new one starts
    // when the store's state is lost.
    this.o.signer.epoch = await this.o.store.epoch(newEpoch(Date.now(), this.o.random))
    this.#tailSeq = (await this.o.store.bounds()).last
    await this.#tick()
    this.#loops.push(this.#tail())
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

  async connected(open: StreamOpen): Promise<void> {
    const { store } = this.o
    const { clientId } = open
    this.#holding.set(clientId, [])
    let last = 0
    try {
      const bounds = await store.bounds()
      last = bounds.last
      const at = { epoch: this.o.signer.epoch, last: bounds.last, floor: bounds.floor }
      const old = predates(open, at)
      const presence: PresenceRecord = {
        r: this.id,
        ...(open.entries !== undefined && { e: open.entries }),
        at: Date.now(),
      }
      await store.setPresence(clientId, JSON.stringify(presence))
      await store.publish(
        JSON.stringify({
          t: 'join',
          c: clientId,
          r: this.id,
          ...(open.entries !== undefined && { e: open.entries }),
          ...(old && { p: 1 }),
        } satisfies FleetEvent),
      )
      this.o.hub.write(
        clientId,
        helloFrame(this.o.signer, { seq: bounds.last, clientId, nonce: open.nonce }),
      )
      const next = catchUp(open, at)
      if (next.kind === 'config') {
        this.o.hub.write(clientId, await this.#configFrame(at))
      } else if (next.kind === 'reset') {
        this.o.hub.write(
          clientId,
          frame(
            bounds.last,
            'reset',
            this.#sign({ type: 'reset', seq: bounds.last, reason: next.reason }),
          ),
        )
      } else {
        for (let after = next.after; after < bounds.last; ) {
          const page = await store.read(after, 1000)
          if (page.length === 0) break
          for (const r of page) {
            if (r.seq > bounds.last) break
            if (r.to.length === 0 || r.to.includes(clientId))
              this.o.hub.write(clientId, frameOf(r.seq, r.message, r.meta))
          }
          after = page.at(-1)!.seq
        }
      }
    } finally {
      const held = this.#holding.get(clientId) ?? []
      this.#holding.delete(clientId)
      for (const [seq, f] of held) if (seq > last) this.o.hub.write(clientId, f)
    }
  }

  disconnected(clientId: string): void {
    if (this.#closed) return
    const { store } = this.o
    void (async () => {
      const mine = await store.presence().then((p) => p[clientId])
      if (mine && (JSON.parse(mine) as PresenceRecord).r === this.id)
        await store.setPresence(clientId, undefined)
      await store.publish(
        JSON.stringify({ t: 'leave', c: clientId, r: this.id } satisfies FleetEvent),
      )
    })().catch(() => {})
  }

  async lease(_clientId: string, want: number, cls: TokenClass) {
    const c = this.o.config()
    const g = await this.o.store.grant(
      `${cls}:tokens`,
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
    const ratePerSec = Math.min(params.ratePerSec, this.#rewarmRate)
    return { ratePerSec, burst: Math.min(params.burst, Math.max(1, ratePerSec / 10)) }
  }

  setRewarmRate(ratePerSec: number): void {
    if (!this.#leading) return
    this.#rewarmRate = ratePerSec
    this.#persister?.set(STATE.rewarmRate, String(ratePerSec))
  }

  async heartbeat(clientId: string, hb: Heartbeat): Promise<void> {
    this.o.fleet.heartbeat(clientId, hb, this.o.clock.now())
    await this.o.store.publish(
      JSON.stringify({ t: 'hb', c: clientId, h: hb, r: this.id } satisfies FleetEvent),
    )
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
    return this.#tailSeq
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
        const fence = await store.acquireLeader(this.id, leaseMs, this.o.clock.now())
        if (fence > 0) await this.#lead(fence)
      }
    } catch (error) {
      if (this.#leading) this.#stop(`store unavailable: ${(error as Error).message}`)
    }
    if (!this.#closed) this.#timer = setTimeout(() => void this.#tick(), leaseMs / 3)
  }

  async #lead(fence: number): Promise<void> {
    const { store, config, clock } = this.o
    const c = config()
    const lastEvent = await store.lastEventId()
    const { snapshot, records } = await loadSnapshot(store, c.fleet, clock.now())
    const deliveries = await loadDeliveries(
      store,
      new Set(snapshot.rollouts.map((r) => r.change.id)),
    )
    const bounds = await store.bounds()
    // Acked counts go on from where the last leader left them, before anything is delivered.
    this.o.fleet.restore(deliveries, ackedSeqs(records))
    const persister = new Persister({
      store,
      fence,
      signer: this.o.signer,
      logMaxLength: c.log.maxEntries,
      lastSeq: bounds.last,
      failed: (error) => this.#stop(`a commit failed: ${(error as Error).message}`),
    })
    const engine = new Engine({
      clock,
      config: this.o.engineConfig(c),
      epoch: this.o.signer.epoch,
      // Without buckets in the store (a new fleet, or its state lost), assume they were spent.
      coldStart: !(await store.stateField(STATE.head)),
      snapshot,
      ...(this.o.gate && { gate: this.o.gate }),
      deliver: (d) => {
        const seq = persister.deliver(d)
        this.o.fleet.delivered(d.clientIds, seq, d.change.id, d.wave)
        this.o.metrics.deliveries.inc(
          { class: d.change.priority === 'urgent' ? 'urgent' : d.change.kind },
          d.clientIds.length,
        )
        this.o.metrics.deliveredCost.inc(
          { class: d.change.priority === 'urgent' ? 'urgent' : d.change.kind },
          d.cost,
        )
      },
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
    this.#loops.push(this.#consume(lastEvent, fence))
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
  async #consume(after: string, fence: number): Promise<void> {
    let last = after
    while (this.#leading && this.#fence === fence && !this.#closed) {
      let events: { id: string; event: string }[]
      try {
        events = await this.o.store.events(last, 500, TAIL_BLOCK_MS)
      } catch {
        await new Promise((r) => setTimeout(r, 200))
        continue
      }
      const engine = this.#engine
      const clients = this.#clients
      if (!engine || !clients || this.#fence !== fence) return
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
    }
  }

  // ---- streaming ---------------------------------------------------------------

  /** Every replica: the log's new entries, to this replica's connected clients. */
  async #tail(): Promise<void> {
    while (!this.#closed) {
      let records: Awaited<ReturnType<Store['tail']>>
      try {
        records = await this.o.store.tail(this.#tailSeq, 1000, TAIL_BLOCK_MS)
      } catch {
        await new Promise((r) => setTimeout(r, 200))
        continue
      }
      for (const r of records) {
        this.#tailSeq = r.seq
        const f = frameOf(r.seq, r.message, r.meta)
        const to = r.to.length === 0 ? [...this.o.hub.connections()].map((c) => c.clientId) : r.to
        for (const id of to) {
          const held = this.#holding.get(id)
          if (held) held.push([r.seq, f])
          else this.o.hub.write(id, f)
        }
      }
    }
  }

  #sign(m: SignableMessage): string {
    return signToJson(this.o.signer, m)
  }

  /**
   * The stable config for a new client, signed once per version: the values
   * are read from the store's head (and their digest taken) only when the
   * digest the leader keeps beside it says they changed.
   */
  async #configFrame(at: LogPosition): Promise<string> {
    const { store } = this.o
    const digest = await store.stateField(STATE.stableDigest)
    if (digest === undefined || digest !== this.#stable?.digest) {
      const head = await store.stateField(STATE.head)
      const values = head
        ? ((JSON.parse(head) as { stableConfigValues?: Record<string, unknown> })
            .stableConfigValues ?? {})
        : {}
      this.#stable = { digest: configDigest(values), values }
    }
    const { digest: version, values } = this.#stable
    return this.#configFrames.frame(version, at, (seq) =>
      frame(seq, 'config', this.#sign({ type: 'config', seq, values })),
    )
  }
}

const frame = (seq: number, event: string, data: string) =>
  `id: ${seq}\nevent: ${event}\ndata: ${data}\n\n`

const frameOf = (seq: number, message: string, meta?: string): string => {
  const type = meta ? ((JSON.parse(meta) as { type?: string }).type ?? 'change') : 'change'
  return frame(seq, type, message)
}

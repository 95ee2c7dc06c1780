/**
 * One coordinator replica on a shared Redis store, as the routes see it
 * (a Runtime). Every replica admits streams (B3) and grants refetch tokens
 * (B2) through the store, streams the change log to its own clients, and
 * reports their presence and heartbeats; whether it leads, and so runs the
 * engine, is its Leadership's.
 */
import { hostname } from 'node:os'
import type { Config } from '../../config/schema.js'
import type { GateRecord } from '../../gates/watcher.js'
import { inBursts, tokenParams } from '../../invalidation/budgets.js'
import type { Engine } from '../../invalidation/engine.js'
import type { GcraParams } from '../../limiter/gcra.js'
import type { TokenClass } from '../../model/budget.js'
import type { Heartbeat } from '../../protocol/messages.js'
import { RedisStore } from '../../store/redis.js'
import type { Store } from '../../store/store.js'
import type { AdmissionDecision } from '../admission.js'
import type { BusinessWatch } from '../business.js'
import {
  engineConfigOf,
  type FleetMember,
  type Readiness,
  type Runtime,
  type RuntimeParts,
  type StreamOpen,
} from '../runtime.js'
import { heartbeatEvent } from './fleet-events.js'
import { Leadership } from './leadership.js'
import { FleetSize, fleetMembers } from './presence.js'
import { reach } from './reach.js'
import { STATE } from './restore.js'

export interface ReplicaOptions extends RuntimeParts {
  readonly store: Store
  /** Connect to the store (before anything else at start; a failure is retried). */
  readonly connect?: () => Promise<unknown>
  /** Let go of the store (at close). */
  readonly disconnect?: () => Promise<unknown>
  /** The store, as messages name it (a URL without its password). */
  readonly where: string
  /** Leader lease, ms; failover happens within it. */
  readonly leaseMs: number
}

/** How long start() waits for the store before saying it cannot reach it (and going on trying). */
const REACH_FIRST_WAIT_MS = 3000

export class Replica implements Runtime {
  readonly kind = 'redis' as const
  readonly id = `${hostname()}-${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`
  readonly #leadership: Leadership
  readonly #fleetSize: FleetSize

  constructor(private readonly o: ReplicaOptions) {
    this.#leadership = new Leadership({
      ...o,
      id: this.id,
      tokenBudget: (cls) => this.tokenBudget(cls),
    })
    this.#fleetSize = new FleetSize(
      () => this.fleet().then((m) => m.length),
      () => o.clock.now(),
    )
  }

  get leading(): boolean {
    return this.#leadership.leading
  }

  get engine(): Engine | undefined {
    return this.#leadership.engine
  }

  get store(): Store {
    return this.o.store
  }

  /** Start trying to reach the store; resolves once started, or once it said it cannot yet. */
  start(): Promise<void> {
    return reach({
      where: this.o.where,
      start: () => this.#leadership.start(),
      notice: this.o.notice,
      closed: () => this.#leadership.closed,
      firstWaitMs: REACH_FIRST_WAIT_MS,
      random: this.o.random,
    }).first
  }

  readiness(): Promise<Readiness> {
    return this.#leadership.readiness()
  }

  async leaderUrl(): Promise<string | undefined> {
    if (this.leading) return this.o.url()
    return this.o.store.stateField(STATE.leaderUrl)
  }

  async admit(): Promise<AdmissionDecision> {
    const p = this.o.current().admission
    const r = await this.o.store.take('admission', p, 1, this.o.clock.now())
    if (r.ok) return { admitted: true, retryAfterMs: 0 }
    // Refused: promised a slot of its own on this replica's schedule (see Admission).
    return { admitted: false, retryAfterMs: this.o.admission.promise(r.retryAfterMs) }
  }

  connected(open: StreamOpen): Promise<void> {
    return this.#leadership.streams.connected(open)
  }

  disconnected(clientId: string): void {
    if (!this.#leadership.closed) this.#leadership.streams.disconnected(clientId)
  }

  /** Refetch tokens (B2) from the store's bucket, in fair shares among the clients asking fleet-wide. */
  async lease(clientId: string, want: number, cls: TokenClass) {
    const c = this.o.current()
    const g = await this.o.store.grantShare(
      `${cls}:tokens`,
      clientId,
      this.tokenBudget(cls),
      Math.min(want, c.leases.maxBatch),
      this.o.clock.now(),
      inBursts(cls),
    )
    return { granted: g.granted, ttlMs: c.leases.ttlMs, retryAfterMs: g.retryAfterMs }
  }

  tokenBudget(cls: TokenClass): GcraParams {
    const params = this.o.current().budgets[cls]
    const rate = this.#leadership.rewarmRate
    if (cls !== 'rewarm' || rate === undefined) return params
    // The leader's adaptive rate, as the engine's setTokenRate applies it.
    return tokenParams(params, rate)
  }

  setRewarmRate(ratePerSec: number): void {
    this.#leadership.setRewarmRate(ratePerSec)
  }

  async heartbeat(clientId: string, hb: Heartbeat): Promise<void> {
    this.o.fleet.heartbeat(clientId, hb, this.o.clock.now())
    // What the leader reads of it, no more: business metrics stay here.
    await this.o.store.publish(heartbeatEvent(clientId, hb, this.id))
  }

  async sentRewarm(changeId: string, clientId: string, maxAgeMs: number): Promise<boolean> {
    const engine = this.engine
    if (this.leading && engine) return engine.sentRewarm(changeId, clientId, maxAgeMs)
    // A follower: the delivered set the leader commits with each delivery.
    return this.o.store.isMember(STATE.delivered(changeId), clientId)
  }

  /** Counted from the store at most once a second, however many heartbeats ask. */
  fleetSize(): Promise<number> {
    return this.#fleetSize.get()
  }

  fleet(): Promise<FleetMember[]> {
    return fleetMembers(this.o.store, this.o.clock.now())
  }

  /** The live config changed (on the leader): its engine takes it, the followers are told. */
  configure(next: Config): void {
    this.engine?.reconfigure(engineConfigOf(next))
    this.#leadership.shareConfig(next)
  }

  durable(): Promise<void> {
    return this.#leadership.durable()
  }

  seq(): number {
    return this.#leadership.streams.seq
  }

  /** What a rollout's gate saw and did (the leader runs the gates; followers send reads to it). */
  gateRecord(rolloutId: string): GateRecord | undefined {
    return this.#leadership.gates?.record(rolloutId)
  }

  heartbeatMs(clientId: string): number | undefined {
    return this.#leadership.heartbeatMs(clientId)
  }

  heldRamps(): readonly string[] {
    return this.#leadership.heldRamps()
  }

  get business(): BusinessWatch | undefined {
    return this.#leadership.business
  }

  async close(): Promise<void> {
    await this.#leadership.close()
    await this.o.disconnect?.()
  }
}

/** The Redis runtime: a replica on the Redis (or Redis Cluster) the config names. */
export const redisRuntime = (parts: RuntimeParts): Replica => {
  const where = parts.config.store
  const store = new RedisStore({
    fleet: parts.config.fleet,
    ...(where.kind === 'redis' && where.url !== undefined && { url: where.url }),
    ...(where.kind === 'redis' &&
      where.nodes && {
        cluster: where.nodes.map((n) => ({
          host: n.slice(0, n.lastIndexOf(':')),
          port: Number(n.slice(n.lastIndexOf(':') + 1)),
        })),
      }),
  })
  return new Replica({
    ...parts,
    store,
    connect: () => store.connect(),
    disconnect: () => store.close(),
    where: store.where,
    leaseMs: parts.config.replication.leaseMs,
  })
}

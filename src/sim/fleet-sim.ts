/**
 * slew on a virtual clock: the real engine, the real refresh driver on every
 * client, and an origin that counts fetches. Events (changes, clients
 * joining and leaving, pauses, coordinator restarts from a snapshot) can be
 * scheduled at any time; `run()` plays them out deterministically.
 */
import { budgetClassOf } from '../invalidation/change.js'
import { Engine, type EngineEvent } from '../invalidation/engine.js'
import type { EngineConfigInput } from '../invalidation/options.js'
import type { Delivery } from '../invalidation/pacer.js'
import { VirtualClock } from '../limiter/virtual-clock.js'
import { RefreshDriver } from '../refresh/driver.js'
import { clientId, clientIndex, type Fleet } from './fleet.js'
import { Origin } from './origin.js'
import { mulberry32 } from './rng.js'

/** Classes whose changes make entries stale and so cause refetches. */
export const refetchClasses = ['invalidate', 'rewarm', 'urgent'] as const
export type RefetchClass = (typeof refetchClasses)[number]

export interface FleetSimOptions {
  readonly fleet: Fleet
  readonly engine: EngineConfigInput
  readonly seed: number
  /** Clients that are connected at t0 (default: all). */
  readonly initiallyLive?: number
  /** Keep every fetch in `fetchLog` (for checking bounds over any window). */
  readonly logFetches?: boolean
}

export interface FetchRecord {
  readonly at: number
  readonly count: number
  readonly budgetClass: RefetchClass
}

interface ClientState {
  /** Refetches waiting for a token, per class. */
  readonly stale: Record<RefetchClass, Int32Array>
  readonly drivers: Map<number, RefreshDriver>
}

export class FleetSim {
  readonly clock = new VirtualClock(0)
  readonly origin = new Origin(0)
  /** Fetches per class, for per-class bounds. */
  readonly originByClass: Record<RefetchClass, Origin>
  engine: Engine
  readonly events: EngineEvent[] = []
  /** Every delivery batch, in order. */
  readonly deliveries: Delivery[] = []
  /** Per change id: times each client received it. */
  readonly received = new Map<string, Uint8Array>()
  readonly live: Uint8Array
  /** The engine's sequence number when each client first joined (NaN: never). */
  readonly firstSeq: Float64Array
  readonly fetchLog: FetchRecord[] = []
  restarts = 0
  /** Cold restarts: how many deliveries there were when each happened, and the new epoch. */
  readonly coldRestarts: { deliveries: number; epoch: string }[] = []
  /** Clients that joined before the current engine's state began (they predate it). */
  readonly #predating: Uint8Array
  /** Client deliveries so far (all changes). */
  deliveredCount = 0
  readonly #fleet: Fleet
  readonly #state: ClientState
  readonly #random: () => number
  readonly #config: EngineConfigInput

  constructor(readonly opts: FleetSimOptions) {
    this.#fleet = opts.fleet
    this.#config = opts.engine
    this.#random = mulberry32(opts.seed)
    this.live = new Uint8Array(opts.fleet.size)
    this.firstSeq = new Float64Array(opts.fleet.size).fill(Number.NaN)
    this.#predating = new Uint8Array(opts.fleet.size)
    const n = opts.fleet.size
    this.#state = {
      stale: {
        invalidate: new Int32Array(n),
        rewarm: new Int32Array(n),
        urgent: new Int32Array(n),
      },
      drivers: new Map(),
    }
    this.originByClass = { invalidate: new Origin(0), rewarm: new Origin(0), urgent: new Origin(0) }
    this.engine = this.#newEngine()
    const initially = opts.initiallyLive ?? n
    for (let i = 0; i < initially; i++) this.join(i)
  }

  get fleet(): Fleet {
    return this.#fleet
  }

  /** Schedule `fn` at absolute virtual time `at` (or now, if past). */
  at(at: number, fn: () => void): void {
    this.clock.setTimer(at - this.clock.now(), fn)
  }

  join(i: number, since?: number): void {
    this.live[i] = 1
    const predates = this.#predating[i] === 1
    if (Number.isNaN(this.firstSeq[i]!)) this.firstSeq[i] = predates ? -1 : this.engine.seq
    this.engine.join(clientId(i), {
      entries: this.#fleet.entries[i]!,
      ...(since !== undefined && { since }),
      ...(predates && { predates }),
    })
    for (const cls of refetchClasses)
      if (this.#state.stale[cls][i]! > 0) this.#driver(i, cls).wake()
  }

  leave(i: number): void {
    this.live[i] = 0
    this.engine.leave(clientId(i))
    for (const cls of refetchClasses) {
      const key = driverKey(i, cls)
      this.#state.drivers.get(key)?.close()
      this.#state.drivers.delete(key)
    }
  }

  /** The coordinator dies and a new one resumes from its snapshot (through JSON, as on disk). */
  restart(): void {
    const snap = JSON.parse(JSON.stringify(this.engine.snapshot()))
    this.engine.close()
    this.engine = this.#newEngine(snap)
    this.restarts++
  }

  /**
   * The coordinator dies and a new one starts with none of its state (a
   * memory store restarted): a new epoch, empty budgets, no rollouts. The
   * clients keep theirs and reconnect; each that was ever in the fleet
   * predates the new state, so every change of it concerns them.
   */
  coldRestart(): void {
    this.engine.close()
    const epoch = `cold${this.coldRestarts.length + 1}`
    this.coldRestarts.push({ deliveries: this.deliveries.length, epoch })
    for (let i = 0; i < this.#fleet.size; i++) {
      if (!Number.isNaN(this.firstSeq[i]!)) this.#predating[i] = 1
      this.firstSeq[i] = Number.NaN
    }
    this.engine = this.#newEngine(undefined, epoch)
    this.restarts++
    for (let i = 0; i < this.#fleet.size; i++) if (this.live[i]) this.join(i)
  }

  /** Run until nothing is left to do, or until `until` (virtual ms). */
  run(until = Number.POSITIVE_INFINITY, onStep?: () => void): void {
    while (this.clock.runAll({ until, limit: 50_000 }) > 0) onStep?.()
    if (Number.isFinite(until)) this.clock.advanceTo(until)
  }

  /** Refetches still waiting for a token on connected clients (one that left cannot lease). */
  pendingRefetches(): number {
    let n = 0
    for (const cls of refetchClasses) {
      const stale = this.#state.stale[cls]
      for (let i = 0; i < stale.length; i++) if (this.live[i]) n += stale[i]!
    }
    return n
  }

  #newEngine(snapshot?: ReturnType<Engine['snapshot']>, epoch?: string): Engine {
    return new Engine({
      clock: this.clock,
      config: this.#config,
      ...(snapshot && { snapshot }),
      ...(epoch !== undefined && { epoch, coldStart: true }),
      deliver: (d) => this.#onDelivery(d),
      onEvent: (e) => this.events.push(e),
    })
  }

  #onDelivery(d: Delivery): void {
    this.deliveries.push(d)
    this.deliveredCount += d.clientIds.length
    let seen = this.received.get(d.change.id)
    if (!seen) {
      seen = new Uint8Array(this.#fleet.size)
      this.received.set(d.change.id, seen)
    }
    const cls = refetchClassOf(d)
    for (let j = 0; j < d.clientIds.length; j++) {
      const i = clientIndex(d.clientIds[j]!)
      seen[i] = Math.min(255, seen[i]! + 1)
      if (!cls) continue
      // Entries already waiting for a refetch are refetched once, whatever invalidated them.
      const stale = this.#state.stale[cls]
      const e = this.#fleet.entries[i]!
      stale[i] = Math.min(e, stale[i]! + Math.min(e, d.costs[j]!))
      if (stale[i]! > 0) this.#driver(i, cls).wake()
    }
  }

  #driver(i: number, cls: RefetchClass): RefreshDriver {
    const key = driverKey(i, cls)
    let driver = this.#state.drivers.get(key)
    if (driver) return driver
    const stale = this.#state.stale[cls]
    const id = clientId(i)
    driver = new RefreshDriver({
      clock: this.clock,
      maxBatch: this.engine.config.leases.maxBatch,
      random: this.#random,
      lease: (want) => this.engine.lease(id, want, cls),
      pending: () => stale[i]!,
      run: (tokens) => {
        const now = this.clock.now()
        this.origin.record(now, tokens)
        this.originByClass[cls].record(now, tokens)
        if (this.opts.logFetches) this.fetchLog.push({ at: now, count: tokens, budgetClass: cls })
        stale[i] = stale[i]! - tokens
        if (stale[i] === 0) {
          // Idle clients hold no driver: a million of them must fit in memory.
          this.#state.drivers.get(key)?.close()
          this.#state.drivers.delete(key)
        }
      },
    })
    this.#state.drivers.set(key, driver)
    return driver
  }
}

const driverKey = (i: number, cls: RefetchClass): number => i * 4 + refetchClasses.indexOf(cls)

const refetchClassOf = (d: Delivery): RefetchClass | undefined =>
  d.change.kind === 'config' ? undefined : (budgetClassOf(d.change) as RefetchClass)

/**
 * createClient: what an app server embeds. It keeps an L1 cache under
 * slew's refresh policy, follows the coordinator's stream (signed, replay-
 * protected, applied exactly once, resumed from its sequence number after a
 * reconnect), refetches only under leased tokens, and heartbeats its health.
 * With the coordinator unreachable it keeps serving what it has (S).
 *
 * This file is the API, the wiring and applying messages; the stream is in
 * connection.ts, heartbeats in heartbeats.ts, the calls after a restart in
 * recall.ts.
 */
import { EventEmitter } from 'node:events'
import { NotConnectedError } from '../errors.js'
import { realClock } from '../limiter/clock.js'
import type { TokenClass } from '../model/budget.js'
import type { Clock, Timer } from '../model/clock.js'
import type { HelloMessage, LeaseResponse, SignedStreamMessage } from '../protocol/messages.js'
import type { SigningKeys } from '../protocol/sign.js'
import { parseOptions } from '../validate.js'
import { OriginStats } from '../warmup/origin-stats.js'
import { type ApplyParts, applyMessage } from './apply.js'
import { L1 } from './cache.js'
import { Connection } from './connection.js'
import { Guard } from './guard.js'
import { Heartbeats } from './heartbeats.js'
import { closeAgents, keepAliveAgents, postJson, type Remote } from './http.js'
import { KeySketcher } from './key-sketch.js'
import { Leases } from './leases.js'
import { LoopLag } from './loop-lag.js'
import {
  type ClientOptions,
  type ClientStats,
  optionsSchema,
  type ParsedClientOptions,
  type SlewClientEvents,
} from './options.js'
import { RampedConfig } from './ramped-config.js'
import { type RecallParts, readResumes, recall } from './recall.js'
import { Refresher } from './refresher.js'
import { Rewarms } from './rewarms.js'
import { Signals } from './signals.js'
import { Fresh, Touched } from './slot.js'
import { StaleCap } from './stale-cap.js'
import { Witness } from './witness.js'

export class SlewClient<V = unknown> extends EventEmitter<SlewClientEvents> {
  readonly options: Readonly<ParsedClientOptions>
  readonly #remote: Remote
  readonly #clock: Clock
  /** Waits between tries (a recall's): cancelled by close(), so nothing outlives it. */
  readonly #waits = new Set<Timer>()
  readonly #guard: Guard
  readonly #l1: L1<V>
  readonly #lru: L1<V>['lru']
  readonly #refresher: Refresher
  readonly #leases: Leases
  readonly #staleCap: StaleCap
  readonly #connection: Connection
  readonly #heartbeats: Heartbeats
  /** Key sketches for the coordinator (options.keySketch), if on. */
  readonly #sketcher: KeySketcher | undefined
  readonly #stats = new OriginStats()
  readonly #loop = new LoopLag()
  readonly #signals = new Signals()
  /** The config values with ramps resolved (what `config.get` answers). */
  readonly #ramped = new RampedConfig()
  readonly #witness: Witness
  #applied = 0
  #duplicates = 0
  #heartbeat: NodeJS.Timeout | undefined
  /** The interval the heartbeat timer runs at now. */
  #paceMs = 0
  #closed = false
  readonly #rewarms: Rewarms<V>
  readonly #applyParts: ApplyParts<V>

  constructor(opts: ClientOptions<V>) {
    super()
    if (typeof opts.load !== 'function')
      throw new TypeError('createClient: `load` must be a function (key) => Promise<value>')
    const { load, clock, random: rnd, onOverBudget, hotKeys, ...rest } = opts
    this.options = parseOptions(optionsSchema, rest)
    const o = this.options
    this.#clock = clock ?? realClock
    const random = rnd ?? Math.random
    this.#remote = { url: o.url, ...(o.token && { token: o.token }), agents: keepAliveAgents() }
    this.#guard = new Guard(o.signingKeys as SigningKeys, o.fleet)
    this.#witness = new Witness(() => this.#clock.now())
    this.#leases = new Leases({
      clock: this.#clock,
      random,
      remote: (want, cls, timeoutMs) => this.#lease(want, cls, timeoutMs),
      degraded: (cause) => !this.#closed && this.emit('degraded', { cause }),
      recovered: () => !this.#closed && this.emit('recovered'),
    })
    this.#refresher = new Refresher({
      clock: this.#clock,
      random,
      concurrency: o.refetch.concurrency,
      maxBatch: o.refetch.maxBatch,
      lease: (want, cls, ahead) => this.#leases.lease(want, cls, ahead),
      onError: (e) => this.#report(e),
    })
    this.#l1 = new L1<V>({
      max: o.cache.max,
      ...(o.cache.ttlMs && { ttlMs: o.cache.ttlMs }),
      load,
      refresher: this.#refresher,
      observe: (ms, ok) => this.#stats.observe(ms, ok),
      maxWaitMs: o.refetch.maxWaitMs,
      onOverBudget: onOverBudget ?? 'fail',
      now: () => this.#clock.now(),
      background: o.refetch.background,
      ...(o.keySketch && { added: (key: string) => this.#sketcher?.added(key) }),
    })
    this.#lru = this.#l1.lru
    this.#sketcher =
      o.keySketch &&
      new KeySketcher(
        o.keySketch,
        () => this.#lru.keys(),
        () => this.#lru.size,
        () => this.#clock.now(),
      )
    this.#rewarms = new Rewarms({
      l1: this.#l1,
      cacheMax: o.cache.max,
      hotKeys,
      heartbeatMs: o.rewarmHeartbeatMs,
      beat: () => void this.#sendHeartbeat(),
    })
    this.#staleCap = new StaleCap(o.guard.maxStalePerMinute ?? 2 * o.cache.max, this.#clock)
    this.#heartbeats = new Heartbeats({
      options: o,
      remote: this.#remote,
      guard: this.#guard,
      witness: this.#witness,
      stats: this.#stats,
      loop: this.#loop,
      signals: this.#signals,
      leases: this.#leases,
      rewarms: () => this.#rewarms.take(),
      pace: (ms) => this.#pace(ms),
      hold: (keys) => this.#ramped.hold(keys),
      entries: () => this.#l1.size,
      sketch: this.#sketcher,
      closed: () => this.#closed,
      report: (e) => this.#report(e),
    })
    const calls: RecallParts = {
      options: o,
      remote: this.#remote,
      clock: this.#clock,
      random,
      guard: this.#guard,
      witness: this.#witness,
      events: this,
      waits: this.#waits,
      closed: () => this.#closed,
      report: (e) => this.#report(e),
    }
    this.#applyParts = {
      guard: this.#guard,
      l1: this.#l1,
      staleCap: this.#staleCap,
      rewarms: this.#rewarms,
      witness: this.#witness,
      config: this.#ramped,
      events: this,
    }
    this.#connection = new Connection({
      options: o,
      remote: this.#remote,
      clock: this.#clock,
      random,
      guard: this.#guard,
      events: this,
      entries: () => this.#l1.size,
      apply: (m, signed) => this.#apply(m, signed),
      duplicate: () => {
        this.#duplicates++
      },
      recall: (before) => void recall(calls, before),
      hello: () => {
        void this.#sendHeartbeat()
        this.#rewarms.resume((signal) => readResumes(calls, signal))
      },
      report: (e) => this.#report(e),
    })
  }

  /**
   * Connect; resolves once the stream is open and the coordinator's signed
   * hello is accepted. Rejects with E_WRONG_FLEET if the coordinator serves
   * another fleet than `fleet` names, E_REFUSING if its hello cannot be
   * verified (signing keys), E_NOT_CONNECTED after `startTimeoutMs`; the
   * client keeps trying in the background either way. `since` and `epoch`:
   * an app server that kept its cache across a restart resumes from the
   * sequence number it had applied and its epoch (stats().lastSeq and
   * stats().epoch before it stopped), and gets only what it missed, or a
   * reset. Either way, rewarms this client id left unfinished continue from
   * their checkpoints.
   */
  start(opts: { since?: number; epoch?: string } = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new NotConnectedError('closed'))
    if (opts.since !== undefined) this.#guard.lastSeq = opts.since
    if (opts.epoch !== undefined) this.#guard.epoch = opts.epoch
    const first = this.#connection.start()
    this.#pace(undefined)
    return first
  }

  /** The value for `key`: from the cache, stale while it refreshes, or loaded (once, however many ask). */
  get(key: string, opts?: { tags?: readonly string[] }): Promise<V> {
    // The hot path, small enough to inline: a fresh hit returns the settled promise
    // kept on the entry (close() empties the cache, so this never outlives the client).
    // An entry not read yet has none: L1.get makes it (slot.ts).
    const s = this.#lru.get(key)
    if (s !== undefined) {
      const h = s.held
      if (h instanceof Fresh && h.settled !== undefined) return h.settled
    }
    return this.#l1.get(key, opts?.tags)
  }

  /**
   * The cached value if it may be served now (fresh, or stale while its
   * refetch is queued), without loading: a synchronous read at lru-cache speed.
   */
  peek(key: string): V | undefined {
    const s = this.#lru.get(key)
    if (s === undefined) return undefined
    const h = s.held
    if (h instanceof Fresh) return h.value
    return h instanceof Touched ? this.#l1.peek(key)?.value : h
  }

  /** Put a value in the cache as fresh. */
  set(key: string, value: V, opts?: { tags?: readonly string[] }): void {
    this.#l1.set(key, value, opts?.tags)
  }

  delete(key: string): boolean {
    return this.#l1.delete(key)
  }

  /** The lru-cache holding the entries (for adapters and inspection). */
  get cache(): L1<V> {
    return this.#l1
  }

  /** Config values rolled out by config changes; a ramped value is the number it is at now. */
  readonly config = {
    get: (key: string): unknown => this.#ramped.get(key),
    all: (): Readonly<Record<string, unknown>> => this.#ramped.all(),
  }

  /** Count an app event (orders, errors served) for the gates: reported per heartbeat. */
  count(name: string, n = 1): void {
    this.#signals.count(name, n)
  }

  /** Observe an app measurement (a latency) for the gates: summarized per heartbeat. */
  observe(name: string, value: number): void {
    this.#signals.observe(name, value)
  }

  get connected(): boolean {
    return this.#connection.connected
  }

  stats(): ClientStats {
    const refusing = this.#guard.refusing
    return {
      connected: this.#connection.connected,
      healthy: this.#connection.connected && refusing === undefined,
      ...(refusing && { refusing }),
      ...(this.#guard.fleet !== undefined && { fleet: this.#guard.fleet }),
      ...(this.#guard.epoch !== undefined && { epoch: this.#guard.epoch }),
      lastSeq: this.#guard.lastSeq,
      applied: this.#applied,
      duplicates: this.#duplicates,
      rejected: this.#guard.rejected,
      entries: this.#l1.size,
      refetchTokensUsed: this.#refresher.tokensUsed,
      degraded: this.#leases.degraded,
      localTokensUsed: this.#leases.localTokensUsed,
      staleWaiting: this.#staleCap.waiting,
    }
  }

  /** Send a heartbeat now (cache size, acked sequence, origin health) instead of waiting for the timer. */
  heartbeat(): Promise<void> {
    return this.#sendHeartbeat()
  }

  /** Drop the stream and connect again at once (resuming from the last sequence number). */
  reconnect(): void {
    this.#connection.restart()
  }

  /** Resolves when no refetch is queued or running. */
  idle(): Promise<void> {
    return this.#refresher.idle()
  }

  /** Stop everything: stream, timers, queued refetches. Nothing keeps running. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#heartbeat)
    for (const t of this.#waits) t.cancel()
    this.#waits.clear()
    this.#rewarms.close()
    this.#loop.close()
    this.#connection.close()
    this.#staleCap.close()
    this.#refresher.close()
    this.#l1.close()
    this.#connection.abandon(new NotConnectedError('closed'))
    // A graceful stop checkpoints the rewarms in progress: a restart continues from here
    // (behind a heartbeat in flight, if any; close waits for it two seconds at most).
    if (this.#rewarms.size > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        this.#sendHeartbeat(1000),
        new Promise((r) => {
          timer = setTimeout(r, 2000)
        }),
      ])
      clearTimeout(timer)
    }
    // Nothing calls the coordinator after this: its idle sockets go now, not at their timeout.
    closeAgents(this.#remote.agents)
  }

  #apply(m: Exclude<SignedStreamMessage, HelloMessage>, signed: unknown): void {
    this.#applied++
    this.#connection.settled()
    applyMessage(this.#applyParts, m, signed)
  }

  #lease(want: number, cls: TokenClass, timeoutMs: number): Promise<LeaseResponse> {
    return postJson<LeaseResponse>(
      this.#remote,
      '/v1/leases',
      { clientId: this.options.clientId, want, class: cls },
      { timeoutMs },
    )
  }

  #sendHeartbeat(timeoutMs?: number): Promise<void> {
    return this.#heartbeats.send(timeoutMs)
  }

  /** 'error' events only when someone listens: an unheard one must not crash the app (S). */
  /** Heartbeat every `asked` ms while a gate compares this client (never slower than configured). */
  #pace(asked: number | undefined): void {
    const ms = Math.min(asked ?? this.options.heartbeatMs, this.options.heartbeatMs)
    if (this.#closed || (ms === this.#paceMs && this.#heartbeat)) return
    const changed = this.#paceMs !== 0
    clearInterval(this.#heartbeat)
    this.#paceMs = ms
    const every = () => {
      this.#heartbeat = setInterval(() => void this.#sendHeartbeat(), ms)
      this.#heartbeat.unref()
    }
    if (!changed) {
      every()
      return
    }
    // A new pace starts at a random phase: the clients a gate stops comparing in one second
    // would otherwise all come back together one interval later.
    this.#heartbeat = setTimeout(() => {
      every()
      void this.#sendHeartbeat()
    }, Math.random() * ms)
    this.#heartbeat.unref()
  }

  #report(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }
}

/** Create a client; call `start()` to connect. */
export const createClient = <V = unknown>(opts: ClientOptions<V>): SlewClient<V> =>
  new SlewClient<V>(opts)

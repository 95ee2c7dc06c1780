/**
 * createClient: what an app server embeds. It keeps an L1 cache under
 * slew's refresh policy, follows the coordinator's stream (signed, replay-
 * protected, applied exactly once, resumed from its sequence number after a
 * reconnect), refetches only under leased tokens, and heartbeats its health.
 * With the coordinator unreachable it keeps serving what it has (S).
 */
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { EventSourceMessage } from 'eventsource-parser'
import {
  HttpError,
  NotConnectedError,
  RefusingError,
  type SlewError,
  WrongFleetError,
} from '../errors.js'
import { budgetClassOf } from '../invalidation/change.js'
import { type Clock, realClock, type Timer } from '../limiter/clock.js'
import type {
  GoawayMessage,
  HelloMessage,
  LeaseResponse,
  RejectReason,
  SignedStreamMessage,
} from '../protocol/messages.js'
import type { SigningKeys } from '../protocol/sign.js'
import { parseOptions } from '../validate.js'
import { OriginStats } from '../warmup/origin-stats.js'
import { Backoff } from './backoff.js'
import { L1 } from './cache.js'
import { Guard, REFUSING_AFTER, type Resume } from './guard.js'
import { getJson, postJson, type Remote } from './http.js'
import { Leases } from './leases.js'
import {
  type ClientOptions,
  type ClientStats,
  optionsSchema,
  type ParsedClientOptions,
  type SlewClientEvents,
} from './options.js'
import { Refresher, type TokenClass } from './refresher.js'
import { Rewarms } from './rewarms.js'
import { StaleCap } from './stale-cap.js'
import { StreamConnection } from './stream.js'
import { Witness } from './witness.js'

export class SlewClient<V = unknown> extends EventEmitter<SlewClientEvents> {
  readonly options: Readonly<ParsedClientOptions>
  readonly #remote: Remote
  readonly #clock: Clock
  readonly #random: () => number
  /** Waits between tries (a recall's): cancelled by close(), so nothing outlives it. */
  readonly #waits = new Set<Timer>()
  readonly #guard: Guard
  readonly #l1: L1<V>
  readonly #lru: L1<V>['lru']
  readonly #refresher: Refresher
  readonly #leases: Leases
  readonly #staleCap: StaleCap
  readonly #stream: StreamConnection
  readonly #stats = new OriginStats()
  readonly #witness: Witness
  /** Config values in force: a new object at each change (never mutated), so a digest can be cached. */
  #config: Readonly<Record<string, unknown>> = {}
  #connected = false
  /** The stream of the current attempt has said hello (connected, in the SDK's sense). */
  #hello = false
  #applied = 0
  #duplicates = 0
  /** The last coded error reported for the stream (each reported once until things change). */
  #told: string | undefined
  #heartbeat: NodeJS.Timeout | undefined
  #closed = false
  #firstConnect: { resolve: () => void; reject: (e: Error) => void } | undefined
  readonly #rewarms: Rewarms<V>
  /** The heartbeat in flight, and the one queued behind it: one at a time, so a checkpoint never goes back. */
  #beating: Promise<void> | undefined
  #nextBeat: Promise<void> | undefined

  constructor(opts: ClientOptions<V>) {
    super()
    if (typeof opts.load !== 'function')
      throw new TypeError('createClient: `load` must be a function (key) => Promise<value>')
    const { load, clock, random: rnd, onOverBudget, hotKeys, ...rest } = opts
    this.options = parseOptions(optionsSchema, rest)
    const o = this.options
    this.#clock = clock ?? realClock
    const random = rnd ?? Math.random
    this.#random = random
    this.#remote = { url: o.url, ...(o.token && { token: o.token }) }
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
      lease: (want, cls) => this.#leases.lease(want, cls),
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
    })
    this.#lru = this.#l1.lru
    this.#rewarms = new Rewarms({
      l1: this.#l1,
      cacheMax: o.cache.max,
      hotKeys,
      heartbeatMs: o.rewarmHeartbeatMs,
      beat: () => void this.#sendHeartbeat(),
    })
    this.#staleCap = new StaleCap(o.guard.maxStalePerMinute ?? 2 * o.cache.max, this.#clock)
    this.#stream = new StreamConnection(
      this.#remote,
      {
        query: () => {
          // A new nonce per attempt: the hello that opens it must carry it (an old one replayed is refused).
          const nonce = randomBytes(12).toString('base64url')
          this.#guard.nonce = nonce
          this.#hello = false
          const { epoch } = this.#guard
          return {
            clientId: o.clientId,
            entries: String(this.#l1.size),
            nonce,
            ...(epoch !== undefined && { epoch }),
            ...(o.fleet !== undefined && { fleet: o.fleet }),
          }
        },
        lastSeq: () => this.#guard.lastSeq,
        message: (e) => this.#message(e),
        oversized: () => {
          const verdict = this.#guard.oversized()
          this.emit('rejected', verdict.reason)
          this.#refused('message', verdict)
        },
        connected: () => {},
        disconnected: (reason, retryInMs, error) => {
          const was = this.#connected
          this.#connected = false
          this.#hello = false
          if (error instanceof HttpError && error.problemCode === 'E_WRONG_FLEET') {
            const p = error.problem
            this.#fail(new WrongFleetError(String(p.clientFleet ?? o.fleet), String(p.fleet)))
          } else if (!was && error instanceof HttpError && !error.retryable) {
            this.#firstConnect?.reject(error)
          }
          this.emit('disconnected', { reason, retryInMs })
        },
      },
      { ...o.reconnect, maxMessageBytes: o.maxMessageBytes },
      this.#clock,
      random,
    )
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
    const first = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new NotConnectedError(`no connection within ${this.options.startTimeoutMs} ms`)),
        this.options.startTimeoutMs,
      )
      this.#firstConnect = {
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      }
    })
    this.#stream.start()
    this.#heartbeat = setInterval(() => void this.#sendHeartbeat(), this.options.heartbeatMs)
    this.#heartbeat.unref()
    return first
  }

  /** The value for `key`: from the cache, stale while it refreshes, or loaded (once, however many ask). */
  get(key: string, opts?: { tags?: readonly string[] }): Promise<V> {
    // The hot path, small enough to inline: a fresh hit returns the settled promise
    // kept on the entry (close() empties the cache, so this never outlives the client).
    const e = this.#lru.get(key)
    return e !== undefined && e.state === 'fresh' ? e.settled : this.#l1.get(key, opts?.tags)
  }

  /**
   * The cached value if it may be served now (fresh, or stale while its
   * refetch is queued), without loading: a synchronous read at lru-cache speed.
   */
  peek(key: string): V | undefined {
    const e = this.#lru.get(key)
    if (e === undefined) return undefined
    return e.state === 'fresh' ? e.value : this.#l1.peek(key)?.value
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

  /** Config values rolled out by config changes. */
  readonly config = {
    get: (key: string): unknown => this.#config[key],
    all: (): Readonly<Record<string, unknown>> => ({ ...this.#config }),
  }

  get connected(): boolean {
    return this.#connected
  }

  stats(): ClientStats {
    const refusing = this.#guard.refusing
    return {
      connected: this.#connected,
      healthy: this.#connected && refusing === undefined,
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
    this.#stream.restart()
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
    this.#stream.close()
    this.#staleCap.close()
    this.#refresher.close()
    this.#l1.close()
    this.#firstConnect?.reject(new NotConnectedError('closed'))
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
  }

  #message(e: EventSourceMessage): void {
    if (e.event === 'ping') return
    if (e.event === 'goaway') {
      const msg = safeJson(e.data) as Partial<GoawayMessage> | undefined
      const ms = typeof msg?.retryAfterMs === 'number' ? msg.retryAfterMs : 0
      // Unsigned: it can only delay a reconnect, and never by more than 5 minutes.
      this.#stream.comeBackIn(Math.min(300_000, Math.max(0, ms)))
      return
    }
    const verdict = this.#guard.check(e.data)
    if (verdict.ok === 'duplicate') {
      // Applied before (a rollout recovered after a restart, a catch-up): in order, nothing to do.
      this.#guard.applied(verdict.message)
      this.#duplicates++
      return
    }
    if (verdict.ok === false) {
      this.emit('rejected', verdict.reason)
      this.#refused(e.event ?? 'message', verdict)
      return
    }
    const m = verdict.message
    if (m.type === 'hello') this.#helloFrom(m)
    else this.#apply(m, JSON.parse(e.data) as unknown)
  }

  /** A refusal: a hello refused means nothing on this connection can apply; a run of them is said. */
  #refused(event: string, v: { reason: RejectReason; fleet?: string }): void {
    if (event === 'hello' && v.reason === 'wrong-fleet') {
      this.#fail(new WrongFleetError(this.options.fleet ?? '', v.fleet ?? ''))
      return
    }
    const refusing = this.#guard.refusing
    if (event === 'hello' && !this.#connected) {
      this.#fail(new RefusingError(v.reason, refusing?.count ?? 1))
    } else if (refusing?.count === REFUSING_AFTER) {
      this.#fail(new RefusingError(refusing.reason, refusing.count))
    }
  }

  /**
   * A failure to say: start() rejects with it if still waiting, and an
   * 'error' event carries it once (until the stream gets well again).
   */
  #fail(error: SlewError): void {
    this.#firstConnect?.reject(error)
    const key = `${error.code}:${String(error.details.reason ?? error.details.got ?? '')}`
    if (this.#told === key) return
    this.#told = key
    this.#report(error)
  }

  /** The coordinator introduced itself on this connection (or again, with a new epoch). */
  #helloFrom(m: HelloMessage): void {
    const before = this.#guard.epoch
    // A client that sent a resume point is sent the gap (maybe none) or a reset; one that sent
    // none, the fleet's config.
    const resuming = this.#guard.lastSeq !== undefined
    this.#guard.applied(m)
    this.#told = undefined
    // Its state was lost (an old epoch before this one): tell it what we can prove.
    if (before !== undefined && before !== m.epoch) void this.#recall(before)
    if (this.#hello) return
    this.#hello = true
    this.#connected = true
    // At once, not a heartbeat interval later: the coordinator prices this client's deliveries
    // by its cache size, and the answer brings the budgets to fall back on (degraded mode).
    void this.#sendHeartbeat()
    this.#rewarms.resume((signal) => this.#readResumes(signal))
    // A client with nothing to resume from is sent the fleet's config next: start() resolves
    // once it holds it, so config.get() answers from the first line after `await start()`.
    if (resuming) this.#firstConnect?.resolve()
    this.emit('connected')
  }

  #apply(m: Exclude<SignedStreamMessage, HelloMessage>, signed: unknown): void {
    this.#guard.applied(m)
    this.#applied++
    this.#told = undefined
    // Whatever comes first after the hello settles start() (the config, a reset, the gap).
    this.#firstConnect?.resolve()
    if (m.type === 'config') {
      this.#config = { ...m.values }
      this.emit('config', this.config.all())
    } else if (m.type === 'reset') {
      // The gap is gone from the log: mark everything stale (softly), never drop it; the hard
      // invalidations it names (recovered after a restart) go dead, never served again.
      for (const h of m.hard ?? []) {
        if (this.#guard.memory.has(h.id)) continue
        this.#guard.memory.remember(h.id)
        this.#l1.invalidate(this.#l1.matching({ target: h.target }), h.id, 'hard', 'invalidate')
      }
      const keys = [...this.#l1.lru.keys()]
      this.#staleCap.submit(keys, (ks) =>
        this.#l1.invalidate(ks, `reset-${m.epoch}-${m.seq}`, 'soft', 'invalidate'),
      )
      this.emit('reset', m.reason)
    } else {
      const c = m.change
      if (c.kind === 'config') {
        const next = { ...this.#config, ...c.values }
        for (const k of c.unset ?? []) delete next[k]
        this.#config = next
        this.emit('config', this.config.all())
      } else if (c.kind === 'rewarm') {
        this.#rewarms.start(c)
      } else {
        const cls = budgetClassOf(c) as TokenClass
        this.#staleCap.submit(this.#l1.matching(c), (ks) =>
          this.#l1.invalidate(ks, c.id, c.mode, cls),
        )
      }
      this.emit('change', c)
    }
    this.#witness.applied(m, signed, this.#config)
  }

  /**
   * Tell a coordinator whose epoch is new what we can prove of the one
   * before. Right after its store lost its state it may lead nothing yet
   * (503): tried again with backoff while the answer is retryable, for
   * RECALL_FOR_MS at most, and not once the epoch has moved on again.
   */
  async #recall(epoch: string): Promise<void> {
    const now = this.#guard.epoch
    const until = this.#clock.now() + RECALL_FOR_MS
    const backoff = new Backoff(
      { baseMs: 250, capMs: 5000, resetAfterMs: Number.POSITIVE_INFINITY },
      this.#random,
    )
    for (;;) {
      try {
        await postJson(
          this.#remote,
          `/v1/clients/${encodeURIComponent(this.options.clientId)}/recall`,
          this.#witness.recall(epoch),
        )
        return
      } catch (error) {
        const again = !(error instanceof HttpError) || error.retryable
        const wait = backoff.next()
        if (
          this.#closed ||
          this.#guard.epoch !== now ||
          !again ||
          this.#clock.now() + wait > until
        ) {
          if (!this.#closed) this.#report(error)
          return
        }
        await new Promise<void>((resolve) => {
          const t = this.#clock.setTimer(wait, () => {
            this.#waits.delete(t)
            resolve()
          })
          this.#waits.add(t)
        })
      }
    }
  }

  /** This client's rewarm checkpoints, signed for it and a fresh nonce, checked. */
  async #readResumes(signal: AbortSignal): Promise<Resume[]> {
    const id = this.options.clientId
    const nonce = randomBytes(12).toString('base64url')
    const resumes: Resume[] = []
    try {
      const { rewarms } = await getJson<{ rewarms: unknown[] }>(
        this.#remote,
        `/v1/clients/${encodeURIComponent(id)}/rewarms?nonce=${nonce}`,
        signal,
      )
      for (const entry of Array.isArray(rewarms) ? rewarms : []) {
        const v = this.#guard.checkResume(entry, id, nonce)
        if (v.ok) resumes.push(v.resume)
        else this.emit('rejected', v.reason)
      }
    } catch (error) {
      if (!this.#closed) this.#report(error)
      throw error // read again shortly
    }
    return resumes
  }

  #lease(want: number, cls: TokenClass, timeoutMs: number): Promise<LeaseResponse> {
    return postJson<LeaseResponse>(
      this.#remote,
      '/v1/leases',
      { clientId: this.options.clientId, want, class: cls },
      AbortSignal.timeout(timeoutMs),
    )
  }

  /**
   * One heartbeat at a time: a later one waits for the one in flight (and
   * callers meanwhile share the one queued), so the coordinator never gets
   * an older checkpoint after a newer one.
   */
  #sendHeartbeat(timeoutMs?: number): Promise<void> {
    if (!this.#beating) {
      this.#beating = this.#beat(timeoutMs).finally(() => {
        this.#beating = undefined
      })
      return this.#beating
    }
    this.#nextBeat ??= this.#beating.then(() => {
      this.#nextBeat = undefined
      return this.#sendHeartbeat(timeoutMs)
    })
    return this.#nextBeat
  }

  /** `timeoutMs`: from when it is sent (a queued one does not spend it waiting). */
  async #beat(timeoutMs?: number): Promise<void> {
    const rewarm = this.#rewarms.take()
    const rejected = this.#guard.takeUnreported()
    try {
      const answer = await postJson<unknown>(
        this.#remote,
        `/v1/clients/${encodeURIComponent(this.options.clientId)}/heartbeat`,
        {
          ...(this.#guard.lastSeq !== undefined && { ackedSeq: this.#guard.lastSeq }),
          ...(this.#guard.epoch !== undefined && { epoch: this.#guard.epoch }),
          ...(this.#guard.refusing && { refusing: this.#guard.refusing }),
          configDigest: this.#witness.digest,
          entries: this.#l1.size,
          capacity: this.options.cache.max,
          ...this.#stats.take(),
          rejected,
          ...(rewarm && { rewarm: rewarm.reports }),
        },
        timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs),
      )
      rewarm?.delivered()
      // The budgets and fleet size to refetch under if leases cannot be had (degraded mode).
      this.#leases.learn(answer)
    } catch (error) {
      // Refusal counts are totals the coordinator's metrics add up: none is lost to a failed
      // heartbeat. Origin figures are not kept: they describe a moment that has passed.
      this.#guard.giveBack(rejected)
      if (!this.#closed) this.#report(error)
    }
  }

  /** 'error' events only when someone listens: an unheard one must not crash the app (S). */
  #report(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }
}

/** How long a client keeps trying to hand its proofs to a coordinator of a new epoch. */
const RECALL_FOR_MS = 60_000

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Create a client; call `start()` to connect. */
export const createClient = <V = unknown>(opts: ClientOptions<V>): SlewClient<V> =>
  new SlewClient<V>(opts)

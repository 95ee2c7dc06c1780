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
import { HttpError, NotConnectedError } from '../errors.js'
import { budgetClassOf } from '../invalidation/change.js'
import { type Clock, realClock } from '../limiter/clock.js'
import type { GoawayMessage, LeaseResponse, SignedStreamMessage } from '../protocol/messages.js'
import type { SigningKeys } from '../protocol/sign.js'
import { parseOptions } from '../validate.js'
import { L1 } from './cache.js'
import { Guard, type Resume } from './guard.js'
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
import { OriginStats } from './stats.js'
import { StreamConnection } from './stream.js'

export class SlewClient<V = unknown> extends EventEmitter<SlewClientEvents> {
  readonly options: Readonly<ParsedClientOptions>
  readonly #remote: Remote
  readonly #clock: Clock
  readonly #guard: Guard
  readonly #l1: L1<V>
  readonly #lru: L1<V>['lru']
  readonly #refresher: Refresher
  readonly #leases: Leases
  readonly #staleCap: StaleCap
  readonly #stream: StreamConnection
  readonly #stats = new OriginStats()
  #config: Record<string, unknown> = {}
  #connected = false
  #applied = 0
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
    this.#remote = { url: o.url, ...(o.token && { token: o.token }) }
    this.#guard = new Guard(o.signingKeys as SigningKeys, o.fleet)
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
        query: () => ({ clientId: o.clientId, entries: String(this.#l1.size) }),
        lastSeq: () => this.#guard.lastSeq,
        message: (e) => this.#message(e),
        connected: () => {
          this.#connected = true
          this.#rewarms.resume((signal) => this.#readResumes(signal))
          this.#firstConnect?.resolve()
          this.emit('connected')
        },
        disconnected: (reason, retryInMs, error) => {
          const was = this.#connected
          this.#connected = false
          if (!was && error instanceof HttpError && !error.retryable)
            this.#firstConnect?.reject(error)
          this.emit('disconnected', { reason, retryInMs })
        },
      },
      o.reconnect,
      this.#clock,
      random,
    )
  }

  /**
   * Connect; resolves once the stream is open. The client keeps trying in the
   * background either way. `since`: an app server that kept its cache across
   * a restart resumes from the sequence number it had applied (stats().lastSeq
   * before it stopped), and gets only what it missed, or a reset. Either way,
   * rewarms this client id left unfinished continue from their checkpoints.
   */
  start(opts: { since?: number } = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new NotConnectedError('closed'))
    if (opts.since !== undefined) this.#guard.lastSeq = opts.since
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
    return {
      connected: this.#connected,
      lastSeq: this.#guard.lastSeq,
      applied: this.#applied,
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
    if (!verdict.ok) {
      this.emit('rejected', verdict.reason)
      return
    }
    this.#apply(verdict.message)
  }

  #apply(m: SignedStreamMessage): void {
    this.#guard.applied(m)
    this.#applied++
    if (m.type === 'config') {
      this.#config = { ...m.values }
      this.emit('config', this.config.all())
    } else if (m.type === 'reset') {
      // The gap is gone from the log: mark everything stale (softly), never drop it.
      const keys = [...this.#l1.lru.keys()]
      this.#staleCap.submit(keys, (ks) =>
        this.#l1.invalidate(ks, `reset-${m.seq}`, 'soft', 'invalidate'),
      )
      this.emit('reset', m.reason)
    } else {
      const c = m.change
      if (c.kind === 'config') {
        for (const [k, v] of Object.entries(c.values ?? {})) this.#config[k] = v
        for (const k of c.unset ?? []) delete this.#config[k]
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

/**
 * createClient: what an app server embeds. It keeps an L1 cache under
 * slew's refresh policy, follows the coordinator's stream (signed, replay-
 * protected, applied exactly once, resumed from its sequence number after a
 * reconnect), refetches only under leased tokens, and heartbeats its health.
 * With the coordinator unreachable it keeps serving what it has (S).
 */
import { EventEmitter } from 'node:events'
import type { EventSourceMessage } from 'eventsource-parser'
import { z } from 'zod'
import { HttpError, NotConnectedError } from '../errors.js'
import { budgetClassOf, type Change } from '../invalidation/change.js'
import { type Clock, realClock } from '../limiter/clock.js'
import type {
  GoawayMessage,
  LeaseResponse,
  RewarmReport,
  RewarmResume,
  SignedStreamMessage,
} from '../protocol/messages.js'
import type { SigningKeys } from '../protocol/sign.js'
import { nonNegative, parseOptions, positive, positiveInt } from '../validate.js'
import { RewarmProgress } from '../warmup/progress.js'
import { L1 } from './cache.js'
import { Guard } from './guard.js'
import { getJson, postJson, type Remote } from './http.js'
import { Refresher, type TokenClass } from './refresher.js'
import { StaleCap } from './stale-cap.js'
import { OriginStats } from './stats.js'
import { StreamConnection } from './stream.js'

const optionsSchema = z.strictObject({
  /** Coordinator base URL, e.g. http://127.0.0.1:7070 */
  url: z.url({ error: 'an http(s) URL' }).transform((u) => u.replace(/\/+$/, '')),
  /** Bearer token with the `client` scope (none when the coordinator runs without auth). */
  token: z.string().min(1).optional(),
  /** This app server's stable id. */
  clientId: z.string().regex(/^[\w.:@-]{1,200}$/, { error: '1-200 of [A-Za-z0-9_.:@-]' }),
  /** Key id → secret: the keys whose signatures are trusted (old and new while rotating). */
  signingKeys: z
    .record(z.string().min(1), z.string().min(1))
    .refine((k) => Object.keys(k).length > 0, {
      error: 'at least one key',
    }),
  /** Refuse messages of any other fleet. @default 'default' */
  fleet: z.string().min(1).default('default'),
  cache: z
    .strictObject({
      /** Most entries held. @default 10000 */
      max: positiveInt().default(10_000),
      /** Entries expire after this long, ms (a normal miss, no token). @default none */
      ttlMs: positive().optional(),
    })
    .prefault({}),
  refetch: z
    .strictObject({
      /** Origin calls in flight at once. @default 8 */
      concurrency: positiveInt().default(8),
      /** Most tokens asked for in one lease. @default 20 */
      maxBatch: positiveInt().default(20),
      /** Refetch invalidated entries in the background, not only when read. @default true */
      background: z.boolean().default(true),
      /**
       * How long a reader of a hard-invalidated key waits for a refetch token
       * before `onOverBudget` decides, ms. @default no limit (it waits)
       */
      maxWaitMs: positive().optional(),
    })
    .prefault({}),
  guard: z
    .strictObject({
      /** Most entries that may go stale in any minute (half of it at once); the excess waits. @default 2 × cache.max */
      maxStalePerMinute: positive().optional(),
    })
    .prefault({}),
  /** Heartbeat interval, ms. @default 10000 */
  heartbeatMs: positive().default(10_000),
  /** Heartbeat interval while a rewarm runs (the coordinator's adaptive rate feeds on it), ms. @default 1000 */
  rewarmHeartbeatMs: positive().default(1000),
  reconnect: z
    .strictObject({
      baseMs: positive().default(1000),
      capMs: positive().default(30_000),
      resetAfterMs: nonNegative().default(60_000),
      silenceMs: positive().default(45_000),
    })
    .prefault({}),
  /** start() rejects after this long without a connection (the client keeps trying). @default 10000 */
  startTimeoutMs: positive().default(10_000),
})

export type ClientOptionsInput = z.input<typeof optionsSchema>

export interface ClientOptions<V> extends ClientOptionsInput {
  /** Fetch one key from the origin. */
  readonly load: (key: string) => Promise<V>
  /**
   * A reader of a hard-invalidated key found no token within
   * `refetch.maxWaitMs`: 'fail' rejects its get() at once with
   * OverBudgetError (a shed request is cheap, a timed-out origin call is
   * not); a function answers it instead (a fallback; nothing is cached).
   * @default 'fail'
   */
  readonly onOverBudget?: 'fail' | ((key: string) => V | Promise<V>)
  /** The keys to rewarm for a hotSet rewarm when the cache holds few (e.g. saved before a restart). */
  readonly hotKeys?: () => Iterable<string>
  readonly clock?: Clock
  readonly random?: () => number
}

export interface ClientStats {
  readonly connected: boolean
  readonly lastSeq: number | undefined
  readonly applied: number
  readonly rejected: Readonly<Record<string, number>>
  readonly entries: number
  readonly refetchTokensUsed: number
  readonly staleWaiting: number
}

export interface SlewClientEvents {
  change: [change: Change]
  config: [values: Readonly<Record<string, unknown>>]
  reset: [reason: string]
  connected: []
  disconnected: [info: { reason: string; retryInMs: number }]
  rejected: [reason: string]
  error: [error: unknown]
}

export class SlewClient<V = unknown> extends EventEmitter<SlewClientEvents> {
  readonly options: Readonly<z.output<typeof optionsSchema>>
  readonly #remote: Remote
  readonly #clock: Clock
  readonly #guard: Guard
  readonly #l1: L1<V>
  readonly #lru: L1<V>['lru']
  readonly #refresher: Refresher
  readonly #staleCap: StaleCap
  readonly #stream: StreamConnection
  readonly #stats = new OriginStats()
  #config: Record<string, unknown> = {}
  #connected = false
  #applied = 0
  #heartbeat: NodeJS.Timeout | undefined
  #closed = false
  #firstConnect: { resolve: () => void; reject: (e: Error) => void } | undefined
  readonly #hotKeys: (() => Iterable<string>) | undefined
  /** Rewarms in progress (and finished since the last heartbeat), by change id. */
  readonly #rewarms = new Map<string, RewarmProgress>()
  /**
   * This client's unfinished rewarms by change id, with their checkpoints, as
   * the coordinator kept them: read at the first connection (again at the
   * next, if that read failed). A restarted process continues them.
   */
  #checkpoints: Promise<ReadonlyMap<string, RewarmReport>> | undefined
  #rewarmBeat: NodeJS.Timeout | undefined
  /** The heartbeat in flight, and the one queued behind it: one at a time, so a checkpoint never goes back. */
  #beating: Promise<void> | undefined
  #nextBeat: Promise<void> | undefined

  constructor(opts: ClientOptions<V>) {
    super()
    if (typeof opts.load !== 'function')
      throw new TypeError('createClient: `load` must be a function (key) => Promise<value>')
    const { load, clock, random: rnd, onOverBudget, hotKeys, ...rest } = opts
    this.#hotKeys = hotKeys
    this.options = parseOptions(optionsSchema, rest)
    const o = this.options
    this.#clock = clock ?? realClock
    const random = rnd ?? Math.random
    this.#remote = { url: o.url, ...(o.token && { token: o.token }) }
    this.#guard = new Guard(o.signingKeys as SigningKeys, o.fleet)
    this.#refresher = new Refresher({
      clock: this.#clock,
      random,
      concurrency: o.refetch.concurrency,
      maxBatch: o.refetch.maxBatch,
      lease: (want, cls) => this.#lease(want, cls),
      onError: (e) => this.#report(e),
    })
    this.#l1 = new L1<V>({
      max: o.cache.max,
      ...(o.cache.ttlMs && { ttlMs: o.cache.ttlMs }),
      load,
      refresher: this.#refresher,
      observe: (ms, ok) => this.#stats.observe(ms, ok),
      ...(o.refetch.maxWaitMs !== undefined && { maxWaitMs: o.refetch.maxWaitMs }),
      onOverBudget: onOverBudget ?? 'fail',
      now: () => this.#clock.now(),
      background: o.refetch.background,
    })
    this.#lru = this.#l1.lru
    this.#staleCap = new StaleCap(o.guard.maxStalePerMinute ?? 2 * o.cache.max, this.#clock)
    this.#stream = new StreamConnection(
      this.#remote,
      {
        query: () => ({ clientId: o.clientId, entries: String(this.#l1.size) }),
        lastSeq: () => this.#guard.lastSeq,
        message: (e) => this.#message(e),
        connected: () => {
          this.#connected = true
          this.#checkpoints ??= this.#readCheckpoints()
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
    clearInterval(this.#rewarmBeat)
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
        this.#sendHeartbeat(AbortSignal.timeout(1000)),
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
        this.#rewarm(c)
      } else {
        const cls = budgetClassOf(c) as TokenClass
        this.#staleCap.submit(this.#l1.matching(c), (ks) =>
          this.#l1.invalidate(ks, c.id, c.mode, cls),
        )
      }
      this.emit('change', c)
    }
  }

  /**
   * Hottest first, every fetch under a rewarm token; progress goes out in
   * heartbeats and is checkpointed in the coordinator's store. A listed
   * rewarm (the keys' content changed) refetches the keys held too, serving
   * their old values meanwhile; a hotSet rewarm refetches what is not fresh.
   */
  #rewarm(c: Change, from?: RewarmReport): void {
    // Taken up already: continued from its checkpoint, then replayed on the stream.
    if (this.#rewarms.has(c.id)) return
    const listed = !c.target?.hotSet
    let keys: string[]
    if (!listed) {
      // Most recently used first; what is fresh needs nothing.
      keys = [...this.#lru.keys()].filter((k) => this.#lru.peek(k)?.state !== 'fresh')
      if (this.#hotKeys) for (const k of this.#hotKeys()) if (!this.#lru.has(k)) keys.push(k)
    } else keys = [...(c.target?.keys ?? [])]
    const progress = new RewarmProgress(keys.length, listed)
    this.#rewarms.set(c.id, progress)
    if (!this.#rewarmBeat) {
      this.#rewarmBeat = setInterval(
        () => void this.#sendHeartbeat(),
        this.options.rewarmHeartbeatMs,
      )
      this.#rewarmBeat.unref()
    }
    const attempt = (i: number, n: number) =>
      this.#l1.rewarm([keys[i]!], (ok) => {
        if (this.#closed) return // cut short by close(): not settled, a restart does it
        if (ok) progress.settle(i, true)
        // An origin error: try that key again later, a few times, then give up on it.
        else if (n < 3 && !this.#closed) setTimeout(() => attempt(i, n + 1), 1000 * n).unref()
        else progress.settle(i, false)
      })
    const go = (left: (i: number) => boolean) => {
      if (this.#closed) return
      progress.begin()
      const todo: number[] = []
      for (let i = 0; i < keys.length; i++) if (left(i)) todo.push(i)
      // The content changed: what is held is served stale until its refetch.
      if (listed)
        this.#l1.markStale(
          todo.map((i) => keys[i]!),
          c.id,
          'rewarm',
        )
      // In the list's order (the job lists the hottest first); a held key a reader asks
      // for moves up on its own (served stale, its refetch queued ahead of the rewarm).
      for (const i of todo) attempt(i, 1)
    }
    if (!listed) go(() => true)
    else if (from) go(progress.resume(from))
    // Replayed to a restarted client while its checkpoints are being read: continue from its own.
    else if (this.#checkpoints)
      void this.#checkpoints.then((m) => {
        const checkpoint = m.get(c.id)
        go(checkpoint ? progress.resume(checkpoint) : () => true)
      })
    else go(() => true)
  }

  /** Read this client's unfinished rewarms and continue each (signed, for this fleet and client). */
  async #readCheckpoints(): Promise<ReadonlyMap<string, RewarmReport>> {
    const id = this.options.clientId
    const resumes: RewarmResume[] = []
    try {
      const { rewarms } = await getJson<{ rewarms: unknown[] }>(
        this.#remote,
        `/v1/clients/${encodeURIComponent(id)}/rewarms`,
      )
      for (const entry of Array.isArray(rewarms) ? rewarms : []) {
        const v = this.#guard.checkResume(entry, id)
        if (!v.ok) {
          this.emit('rejected', v.reason)
          continue
        }
        resumes.push(v.message)
      }
    } catch (error) {
      this.#checkpoints = undefined // read them at the next connection
      this.#report(error)
      return new Map()
    }
    if (!this.#closed) for (const r of resumes) this.#rewarm(r.change, r.checkpoint)
    return new Map(resumes.map((r) => [r.change.id, r.checkpoint]))
  }

  #lease(want: number, cls: TokenClass): Promise<LeaseResponse> {
    return postJson<LeaseResponse>(this.#remote, '/v1/leases', {
      clientId: this.options.clientId,
      want,
      class: cls,
    })
  }

  /**
   * One heartbeat at a time: a later one waits for the one in flight (and
   * callers meanwhile share the one queued), so the coordinator never gets
   * an older checkpoint after a newer one.
   */
  #sendHeartbeat(signal?: AbortSignal): Promise<void> {
    if (!this.#beating) {
      this.#beating = this.#beat(signal).finally(() => {
        this.#beating = undefined
      })
      return this.#beating
    }
    this.#nextBeat ??= this.#beating.then(() => {
      this.#nextBeat = undefined
      return this.#sendHeartbeat(signal)
    })
    return this.#nextBeat
  }

  async #beat(signal?: AbortSignal): Promise<void> {
    const finished: string[] = []
    const sent: string[] = []
    let rewarm: Record<string, RewarmReport> | undefined
    // At most MAX_REPORTS rewarms a heartbeat: those reported longest ago first (the map
    // is kept in that order), so with more running each still gets its turn.
    for (const [id, p] of this.#rewarms) {
      if (sent.length === MAX_REPORTS) break
      if (!p.begun) continue // waiting for its checkpoint: nothing to say yet
      rewarm ??= {}
      rewarm[id] = p.report()
      sent.push(id)
      if (p.finished) finished.push(id)
    }
    try {
      await postJson(
        this.#remote,
        `/v1/clients/${encodeURIComponent(this.options.clientId)}/heartbeat`,
        {
          ...(this.#guard.lastSeq !== undefined && { ackedSeq: this.#guard.lastSeq }),
          entries: this.#l1.size,
          ...this.#stats.take(),
          rejected: this.#guard.takeUnreported(),
          ...(rewarm && { rewarm }),
        },
        signal,
      )
      // A finished rewarm is reported until a heartbeat carrying it got through;
      // the others sent go to the back of the line.
      for (const id of sent) {
        const p = this.#rewarms.get(id)
        this.#rewarms.delete(id)
        if (p && !finished.includes(id)) this.#rewarms.set(id, p)
      }
      if (this.#rewarms.size === 0 && this.#rewarmBeat) {
        clearInterval(this.#rewarmBeat)
        this.#rewarmBeat = undefined
      }
    } catch (error) {
      if (!this.#closed) this.#report(error)
    }
  }

  /** 'error' events only when someone listens: an unheard one must not crash the app (S). */
  #report(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }
}

/** Rewarm reports a heartbeat carries at most (the coordinator refuses more). */
const MAX_REPORTS = 100

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

/**
 * The Redis store (ioredis; one Redis or a Redis Cluster). Every write that
 * must be atomic is one Lua script with the time passed in; every key shares
 * the fleet's hash tag. When Redis cannot be reached, calls fail fast with
 * StoreUnavailableError (no offline queue), naming where and why (the
 * connection's last error, never the client library's internals): callers
 * answer 503, they never bypass the budget. The connection is retried for
 * good, with backoff, from the first try on.
 */
import { Cluster, type ClusterNode, Redis, type RedisOptions } from 'ioredis'
import { FencedError, StoreUnavailableError } from '../errors.js'
import { FAIR_WINDOW_MS } from '../limiter/fair.js'
import type { GcraParams } from '../limiter/gcra.js'
import { type FleetKeys, fleetKeys } from './keys.js'
import { commandName, loadScripts, packageVersion, type Script } from './scripts.js'
import { type BucketName, EVENTS_KEPT, type LogRecord, type StateOp, type Store } from './store.js'

export interface RedisStoreOptions {
  readonly fleet: string
  /** redis://host:port, or cluster start-up nodes. */
  readonly url?: string
  readonly cluster?: readonly ClusterNode[]
  /** Scripts are named and stamped with this. @default the package version */
  readonly version?: string
  /** Per-command timeout, ms. @default 2000 */
  readonly commandTimeoutMs?: number
  /**
   * The Lua scripts to register (under `version`'s names). @default
   * loadScripts(version): this package's own. Another slew version brings its
   * own; a test uses this to stand one in.
   */
  readonly scripts?: readonly Script[]
}

/** One term of the leader lease, as recorded in Redis (times from the leaders' clocks). */
export interface LeaseTerm {
  readonly fence: number
  readonly replica: string
  /** When this replica took the lease. */
  readonly acquiredAt: number
  /** Its last renewal (or its acquisition, if never renewed). */
  readonly renewedAt: number
}

/** Lease terms kept in Redis (newest first). */
const TERMS_KEPT = 32

type Client = Redis | Cluster
type Call = (...args: (string | number)[]) => Promise<unknown>

export class RedisStore implements Store {
  readonly client: Client
  readonly version: string
  /** Where this store is, for messages: the URL without its password, or the cluster's nodes. */
  readonly where: string
  /** Why the connection is down (its last error), while it is. */
  #lastError: string | undefined
  readonly #keys: FleetKeys
  readonly #calls: Record<string, Call> = {}
  /** One connection per blocking reader, since an XREAD BLOCK holds its connection. */
  readonly #blockers = new Map<string, Promise<Client>>()

  constructor(opts: RedisStoreOptions) {
    this.version = opts.version ?? packageVersion()
    this.#keys = fleetKeys(opts.fleet)
    const common: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs ?? 2000,
      retryStrategy: (times) => Math.min(1000, 50 * 2 ** Math.min(times, 5)),
      lazyConnect: true,
    }
    this.client = opts.cluster
      ? new Cluster([...opts.cluster], {
          redisOptions: common,
          enableOfflineQueue: false,
          lazyConnect: true,
        })
      : new Redis(opts.url ?? 'redis://127.0.0.1:6379', common)
    this.where = opts.cluster
      ? `redis cluster ${opts.cluster.map((n) => (typeof n === 'object' ? `${n.host ?? '127.0.0.1'}:${n.port ?? 6379}` : String(n))).join(',')}`
      : redactUrl(opts.url ?? 'redis://127.0.0.1:6379')
    // Errors surface on calls (an unhandled 'error' event must not crash the coordinator);
    // the last one says why the connection is down.
    this.client.on('error', (error: Error) => {
      this.#lastError = error.message
    })
    this.client.on('ready', () => {
      this.#lastError = undefined
    })
    for (const s of opts.scripts ?? loadScripts(this.version)) {
      const name = commandName(this.version, s.name)
      this.client.defineCommand(name, {
        lua: s.lua,
        ...(s.keys !== undefined && { numberOfKeys: s.keys }),
      })
      this.#calls[s.name] = (this.client as unknown as Record<string, Call>)[name]!.bind(
        this.client,
      )
    }
  }

  /**
   * Connect, and wait until ready; rejects (StoreUnavailableError, with the
   * connection's error) at the first try that fails. The client goes on
   * trying in the background: call again to wait for its next try.
   */
  async connect(): Promise<this> {
    const c = this.client
    if (c.status === 'ready') return this
    try {
      await new Promise<void>((resolve, reject) => {
        const settle = (error?: Error) => {
          c.off('ready', ready)
          c.off('error', failed)
          c.off('end', ended)
          if (error) reject(error)
          else resolve()
        }
        const ready = () => settle()
        const failed = (error: Error) => settle(error)
        const ended = () => settle(new Error('the connection was closed'))
        c.on('ready', ready)
        c.on('error', failed)
        c.on('end', ended)
        // The first try (lazy until now); later ones are the client's own retries.
        if (c.status === 'wait') c.connect().catch(() => {})
      })
    } catch (error) {
      throw new StoreUnavailableError(`cannot reach ${this.where}: ${(error as Error).message}`, {
        cause: error,
      })
    }
    return this
  }

  /** Whether the connection is up now (a call may still fail). */
  get reachable(): boolean {
    return this.client.status === 'ready'
  }

  async take(bucket: BucketName, p: GcraParams, cost: number, now: number) {
    const [ok, retry] = (await this.#run(
      'gcraTake',
      this.#keys.bucket(bucket),
      now,
      p.ratePerSec,
      p.burst,
      cost,
    )) as [number, string]
    return { ok: ok === 1, retryAfterMs: Number(retry) }
  }

  async grant(bucket: BucketName, p: GcraParams, want: number, now: number) {
    const [granted, retry] = (await this.#run(
      'gcraGrant',
      this.#keys.bucket(bucket),
      now,
      p.ratePerSec,
      p.burst,
      want,
    )) as [number, string]
    return { granted, retryAfterMs: Number(retry) }
  }

  async grantShare(bucket: BucketName, clientId: string, p: GcraParams, want: number, now: number) {
    const [granted, retry] = (await this.#run(
      'gcraGrantShare',
      this.#keys.bucket(bucket),
      this.#keys.asking(bucket),
      this.#keys.shares(bucket),
      now,
      p.ratePerSec,
      p.burst,
      want,
      clientId,
      FAIR_WINDOW_MS,
    )) as [number, string]
    return { granted, retryAfterMs: Number(retry) }
  }

  async acquireLeader(replica: string, ttlMs: number, now: number): Promise<number> {
    return Number(
      await this.#run(
        'leaderAcquire',
        this.#keys.leader,
        this.#keys.fence,
        this.#keys.terms,
        replica,
        Math.ceil(ttlMs),
        now,
        TERMS_KEPT,
      ),
    )
  }

  async renewLeader(replica: string, fence: number, ttlMs: number, now: number): Promise<boolean> {
    return (
      (await this.#run(
        'leaderRenew',
        this.#keys.leader,
        this.#keys.terms,
        `${replica}|${fence}`,
        Math.ceil(ttlMs),
        now,
      )) === 1
    )
  }

  /** The lease's recent terms, newest first (Redis only: what a failover check reads). */
  async leaseTerms(): Promise<LeaseTerm[]> {
    const rows = await this.#plain(() => this.client.lrange(this.#keys.terms, 0, -1))
    return rows.flatMap((row) => {
      const m = /^(\d+)\|([^|]*)\|([^|]*)\|(.*)$/.exec(row)
      return m
        ? [
            {
              fence: Number(m[1]),
              acquiredAt: Number(m[2]),
              renewedAt: Number(m[3]),
              replica: m[4]!,
            },
          ]
        : []
    })
  }

  async releaseLeader(replica: string, fence: number): Promise<boolean> {
    return (await this.#run('leaderRelease', this.#keys.leader, `${replica}|${fence}`)) === 1
  }

  async leader() {
    const v = await this.#plain(() => this.client.get(this.#keys.leader))
    const m = v ? /^(.*)\|(\d+)$/.exec(v) : null
    return m ? { replica: m[1]!, fence: Number(m[2]) } : undefined
  }

  async commit(
    fence: number,
    ops: readonly StateOp[],
    logMaxLength: number,
    epoch?: string,
  ): Promise<void> {
    const sets: string[] = []
    const setIndex = (name: string) => {
      const key = this.#keys.set(name)
      let i = sets.indexOf(key)
      if (i < 0) i = sets.push(key) - 1
      return 5 + i
    }
    const args: (string | number)[] = []
    for (const op of ops) {
      if (op.op === 'log') args.push('X', op.seq, op.to.join(','), op.message, op.meta ?? '')
      else if (op.op === 'set') args.push('H', op.field, op.value)
      else if (op.op === 'del') args.push('D', op.field)
      else if (op.op === 'drop') args.push('R', setIndex(op.set))
      else args.push('S', setIndex(op.set), op.members.length, ...op.members)
    }
    const keys = [this.#keys.fence, this.#keys.log, this.#keys.state, this.#keys.epoch, ...sets]
    try {
      await this.#calls.commit!(keys.length, ...keys, fence, logMaxLength, epoch ?? '', ...args)
    } catch (error) {
      const msg = (error as Error).message ?? ''
      const fenced = /FENCED (\d+)/.exec(msg)
      if (fenced) throw new FencedError(fence, Number(fenced[1]))
      const gone = /EPOCH (\S*)/.exec(msg)
      if (gone && epoch !== undefined)
        throw new FencedError(fence, fence, { mine: epoch, current: gone[1] || undefined })
      const seq = /SEQ (\d+)/.exec(msg)
      if (seq) throw new RangeError(`log seq does not follow ${seq[1]}`)
      throw this.#unavailable(error)
    }
  }

  async state(): Promise<Record<string, string>> {
    return this.#plain(() => this.client.hgetall(this.#keys.state))
  }

  async members(set: string): Promise<string[]> {
    return this.#plain(() => this.client.smembers(this.#keys.set(set)))
  }

  async isMember(set: string, member: string): Promise<boolean> {
    return (await this.#plain(() => this.client.sismember(this.#keys.set(set), member))) === 1
  }

  async read(afterSeq: number, count: number): Promise<LogRecord[]> {
    const rows = await this.#plain(() =>
      this.client.xrange(this.#keys.log, `(${afterSeq}-0`, '+', 'COUNT', count),
    )
    return rows.map(([id, fields]) => recordOf(id, fields))
  }

  /** Wait up to `blockMs` for entries after `afterSeq` (XREAD BLOCK, on its own connection). */
  async tail(afterSeq: number, count: number, blockMs: number): Promise<LogRecord[]> {
    const res = await this.#plain(() =>
      this.#blocking('log').then((c) =>
        c.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.#keys.log, `${afterSeq}-0`),
      ),
    )
    return res?.[0]?.[1].map(([id, fields]) => recordOf(id, fields)) ?? []
  }

  async stateField(field: string): Promise<string | undefined> {
    return (await this.#plain(() => this.client.hget(this.#keys.state, field))) ?? undefined
  }

  async epoch(candidate: string): Promise<string> {
    const held = await this.#plain(() => this.client.set(this.#keys.epoch, candidate, 'NX', 'GET'))
    return held ?? candidate
  }

  async setPresence(clientId: string, record: string | undefined): Promise<void> {
    await this.#plain(() =>
      record === undefined
        ? this.client.hdel(this.#keys.presence, clientId)
        : this.client.hset(this.#keys.presence, clientId, record),
    )
  }

  async dropPresence(clientId: string, record: string): Promise<boolean> {
    return (await this.#run('presenceDrop', this.#keys.presence, clientId, record)) === 1
  }

  async presence(): Promise<Record<string, string>> {
    return this.#plain(() => this.client.hgetall(this.#keys.presence))
  }

  async setRewarm(changeId: string, clientId: string, record: string, ttlMs: number) {
    const key = this.#keys.rewarm(changeId)
    await this.#plain(() =>
      this.client.multi().hset(key, clientId, record).pexpire(key, ttlMs).exec(),
    )
  }

  async rewarm(changeId: string): Promise<Record<string, string>> {
    return this.#plain(() => this.client.hgetall(this.#keys.rewarm(changeId)))
  }

  async rewarmOf(changeId: string, clientId: string): Promise<string | undefined> {
    return (
      (await this.#plain(() => this.client.hget(this.#keys.rewarm(changeId), clientId))) ??
      undefined
    )
  }

  async publish(event: string): Promise<string> {
    const id = await this.#plain(() =>
      this.client.xadd(this.#keys.events, 'MAXLEN', '~', EVENTS_KEPT, '*', 'e', event),
    )
    return id ?? ''
  }

  async firstEventId(): Promise<string> {
    const first = await this.#plain(() =>
      this.client.xrange(this.#keys.events, '-', '+', 'COUNT', 1),
    )
    return first[0]?.[0] ?? '0-0'
  }

  async lastEventId(): Promise<string> {
    const last = await this.#plain(() =>
      this.client.xrevrange(this.#keys.events, '+', '-', 'COUNT', 1),
    )
    return last[0]?.[0] ?? '0-0'
  }

  async events(afterId: string, count: number, blockMs: number) {
    const res = await this.#plain(() =>
      blockMs > 0
        ? this.#blocking('events').then((c) =>
            c.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.#keys.events, afterId),
          )
        : this.client.xread('COUNT', count, 'STREAMS', this.#keys.events, afterId),
    )
    return res?.[0]?.[1].map(([id, fields]) => ({ id, event: fields[1] ?? '' })) ?? []
  }

  async heartbeatReplica(replica: string, until: number): Promise<void> {
    await this.#plain(() => this.client.hset(this.#keys.replicas, replica, String(until)))
  }

  async replicas(): Promise<Record<string, number>> {
    const all = await this.#plain(() => this.client.hgetall(this.#keys.replicas))
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, Number(v)]))
  }

  async bounds() {
    const [first, last, length, floor] = await this.#plain(() =>
      Promise.all([
        this.client.xrange(this.#keys.log, '-', '+', 'COUNT', 1),
        this.client.xrevrange(this.#keys.log, '+', '-', 'COUNT', 1),
        this.client.xlen(this.#keys.log),
        this.client.hget(this.#keys.state, 'logFloor'),
      ]),
    )
    return {
      first: first[0] ? seqOf(first[0][0]) : 0,
      last: last[0] ? seqOf(last[0][0]) : 0,
      length,
      floor: Number(floor ?? 0),
    }
  }

  async close(): Promise<void> {
    this.client.disconnect()
    for (const b of this.#blockers.values())
      void b.then(
        (c) => c.disconnect(),
        () => {},
      )
  }

  #blocking(name: 'log' | 'events'): Promise<Client> {
    let b = this.#blockers.get(name)
    if (!b) {
      const c = this.client.duplicate()
      c.on('error', () => {})
      b = c.connect().then(() => c)
      // One that could not connect is dropped, not left retrying in the background: the
      // next call makes another.
      b.catch(() => {
        this.#blockers.delete(name)
        c.disconnect()
      })
      this.#blockers.set(name, b)
    }
    return b
  }

  async #run(name: string, ...args: (string | number)[]): Promise<unknown> {
    return this.#plain(() => this.#calls[name]!(...args))
  }

  async #plain<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      throw this.#unavailable(error)
    }
  }

  /** A failed call as the caller should see it: while disconnected, where and why, not how ioredis says it. */
  #unavailable(error: unknown): StoreUnavailableError {
    const reason =
      this.client.status === 'ready'
        ? (error as Error).message
        : `cannot reach ${this.where}: ${this.#lastError ?? `the connection is ${this.client.status}`}`
    return new StoreUnavailableError(reason, { cause: error })
  }
}

/** A Redis URL without its password (for messages and logs). */
export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url)
    if (u.password === '') return url
    u.password = ''
    return u.toString()
  } catch {
    return url.replace(/:[^:@/]*@/, '@')
  }
}

const seqOf = (id: string): number => Number(id.slice(0, id.indexOf('-')))

const recordOf = (id: string, fields: string[]): LogRecord => {
  const f: Record<string, string> = {}
  for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!
  return {
    seq: seqOf(id),
    to: f.to ? f.to.split(',') : [],
    message: f.m ?? '',
    ...(f.x && { meta: f.x }),
  }
}

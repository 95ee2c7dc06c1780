/**
 * The Redis store's connection: one ioredis client (one Redis or a Redis
 * Cluster) with slew's Lua scripts registered under versioned names, the
 * extra connections blocking reads hold, and the one way a failed call is
 * reported: StoreUnavailableError, naming where and why (the connection's
 * last error, never the client library's internals).
 */
import { Cluster, type ClusterNode, Redis, type RedisOptions } from 'ioredis'
import { StoreUnavailableError } from '../errors.js'
import { type FleetKeys, fleetKeys } from './keys.js'
import { commandName, loadScripts, packageVersion, type Script } from './scripts.js'

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

export type Client = Redis | Cluster
export type Call = (...args: (string | number)[]) => Promise<unknown>

export class RedisConnection {
  readonly client: Client
  readonly version: string
  /** Where this store is, for messages: the URL without its password, or the cluster's nodes. */
  readonly where: string
  readonly keys: FleetKeys
  /** Why the connection is down (its last error), while it is. */
  #lastError: string | undefined
  readonly #calls: Record<string, Call> = {}
  /** One connection per blocking reader, since an XREAD BLOCK holds its connection. */
  readonly #blockers = new Map<string, Promise<Client>>()

  constructor(opts: RedisStoreOptions) {
    this.version = opts.version ?? packageVersion()
    this.keys = fleetKeys(opts.fleet)
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

  /** The registered script `name` (see scripts.ts), to call with its keys and arguments. */
  script(name: string): Call {
    return this.#calls[name]!
  }

  async close(): Promise<void> {
    this.client.disconnect()
    for (const b of this.#blockers.values())
      void b.then(
        (c) => c.disconnect(),
        () => {},
      )
  }

  /** The connection blocking reads of `name` hold (made on first use). */
  blocking(name: 'log' | 'events'): Promise<Client> {
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

  /** Call script `name`; a failure is a StoreUnavailableError. */
  async run(name: string, ...args: (string | number)[]): Promise<unknown> {
    return this.plain(() => this.#calls[name]!(...args))
  }

  /** Run one plain command (or a few); a failure is a StoreUnavailableError. */
  async plain<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      throw this.unavailable(error)
    }
  }

  /** A failed call as the caller should see it: while disconnected, where and why, not how ioredis says it. */
  unavailable(error: unknown): StoreUnavailableError {
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

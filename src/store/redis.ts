/**
 * The Redis store (ioredis; one Redis or a Redis Cluster). Every write that
 * must be atomic is one Lua script with the time passed in; every key shares
 * the fleet's hash tag. When Redis cannot be reached, calls fail fast with
 * StoreUnavailableError (no offline queue), naming where and why (the
 * connection's last error, never the client library's internals): callers
 * answer 503, they never bypass the budget. The connection is retried for
 * good, with backoff, from the first try on.
 *
 * This file maps the Store interface onto Redis; the connection and its
 * scripts are in redis-connection.ts, the leader lease in redis-leader.ts,
 * the log and its commit in redis-log.ts.
 */
import { FAIR_WINDOW_MS } from '../limiter/fair.js'
import type { GcraParams } from '../limiter/gcra.js'
import { type Client, RedisConnection, type RedisStoreOptions } from './redis-connection.js'
import type { LeaseTerm } from './redis-leader.js'
import * as lease from './redis-leader.js'
import * as log from './redis-log.js'
import { type BucketName, EVENTS_KEPT, type LogRecord, type StateOp, type Store } from './store.js'

export { type RedisStoreOptions, redactUrl } from './redis-connection.js'
export type { LeaseTerm } from './redis-leader.js'

export class RedisStore implements Store {
  readonly client: Client
  readonly version: string
  /** Where this store is, for messages: the URL without its password, or the cluster's nodes. */
  readonly where: string
  readonly #r: RedisConnection

  constructor(opts: RedisStoreOptions) {
    this.#r = new RedisConnection(opts)
    this.client = this.#r.client
    this.version = this.#r.version
    this.where = this.#r.where
  }

  /**
   * Connect, and wait until ready; rejects (StoreUnavailableError, with the
   * connection's error) at the first try that fails. The client goes on
   * trying in the background: call again to wait for its next try.
   */
  async connect(): Promise<this> {
    await this.#r.connect()
    return this
  }

  /** Whether the connection is up now (a call may still fail). */
  get reachable(): boolean {
    return this.#r.reachable
  }

  async take(bucket: BucketName, p: GcraParams, cost: number, now: number) {
    const [ok, retry] = (await this.#r.run(
      'gcraTake',
      this.#r.keys.bucket(bucket),
      now,
      p.ratePerSec,
      p.burst,
      cost,
    )) as [number, string]
    return { ok: ok === 1, retryAfterMs: Number(retry) }
  }

  async grant(bucket: BucketName, p: GcraParams, want: number, now: number) {
    const [granted, retry] = (await this.#r.run(
      'gcraGrant',
      this.#r.keys.bucket(bucket),
      now,
      p.ratePerSec,
      p.burst,
      want,
    )) as [number, string]
    return { granted, retryAfterMs: Number(retry) }
  }

  async grantShare(
    bucket: BucketName,
    clientId: string,
    p: GcraParams,
    want: number,
    now: number,
    inBursts = false,
  ) {
    const [granted, retry] = (await this.#r.run(
      'gcraGrantShare',
      this.#r.keys.bucket(bucket),
      this.#r.keys.asking(bucket),
      this.#r.keys.shares(bucket),
      now,
      p.ratePerSec,
      p.burst,
      want,
      clientId,
      FAIR_WINDOW_MS,
      inBursts ? 1 : 0,
    )) as [number, string]
    return { granted, retryAfterMs: Number(retry) }
  }

  async state(): Promise<Record<string, string>> {
    return this.#r.plain(() => this.client.hgetall(this.#r.keys.state))
  }

  async members(set: string): Promise<string[]> {
    return this.#r.plain(() => this.client.smembers(this.#r.keys.set(set)))
  }

  async isMember(set: string, member: string): Promise<boolean> {
    return (await this.#r.plain(() => this.client.sismember(this.#r.keys.set(set), member))) === 1
  }

  async stateField(field: string): Promise<string | undefined> {
    return (await this.#r.plain(() => this.client.hget(this.#r.keys.state, field))) ?? undefined
  }

  async epoch(candidate: string): Promise<string> {
    const held = await this.#r.plain(() =>
      this.client.set(this.#r.keys.epoch, candidate, 'NX', 'GET'),
    )
    return held ?? candidate
  }

  async setPresence(clientId: string, record: string | undefined): Promise<void> {
    await this.#r.plain(() =>
      record === undefined
        ? this.client.hdel(this.#r.keys.presence, clientId)
        : this.client.hset(this.#r.keys.presence, clientId, record),
    )
  }

  async dropPresence(clientId: string, record: string): Promise<boolean> {
    return (await this.#r.run('presenceDrop', this.#r.keys.presence, clientId, record)) === 1
  }

  async presence(): Promise<Record<string, string>> {
    return this.#r.plain(() => this.client.hgetall(this.#r.keys.presence))
  }

  async setRewarm(changeId: string, clientId: string, record: string, ttlMs: number) {
    const key = this.#r.keys.rewarm(changeId)
    await this.#r.plain(() =>
      this.client.multi().hset(key, clientId, record).pexpire(key, ttlMs).exec(),
    )
  }

  async rewarm(changeId: string): Promise<Record<string, string>> {
    return this.#r.plain(() => this.client.hgetall(this.#r.keys.rewarm(changeId)))
  }

  async rewarmOf(changeId: string, clientId: string): Promise<string | undefined> {
    return (
      (await this.#r.plain(() => this.client.hget(this.#r.keys.rewarm(changeId), clientId))) ??
      undefined
    )
  }

  async publish(event: string): Promise<string> {
    const id = await this.#r.plain(() =>
      this.client.xadd(this.#r.keys.events, 'MAXLEN', '~', EVENTS_KEPT, '*', 'e', event),
    )
    return id ?? ''
  }

  async firstEventId(): Promise<string> {
    const first = await this.#r.plain(() =>
      this.client.xrange(this.#r.keys.events, '-', '+', 'COUNT', 1),
    )
    return first[0]?.[0] ?? '0-0'
  }

  async lastEventId(): Promise<string> {
    const last = await this.#r.plain(() =>
      this.client.xrevrange(this.#r.keys.events, '+', '-', 'COUNT', 1),
    )
    return last[0]?.[0] ?? '0-0'
  }

  async events(afterId: string, count: number, blockMs: number) {
    const res = await this.#r.plain(() =>
      blockMs > 0
        ? this.#r
            .blocking('events')
            .then((c) =>
              c.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.#r.keys.events, afterId),
            )
        : this.client.xread('COUNT', count, 'STREAMS', this.#r.keys.events, afterId),
    )
    return res?.[0]?.[1].map(([id, fields]) => ({ id, event: fields[1] ?? '' })) ?? []
  }

  async heartbeatReplica(replica: string, until: number): Promise<void> {
    await this.#r.plain(() => this.client.hset(this.#r.keys.replicas, replica, String(until)))
  }

  async replicas(): Promise<Record<string, number>> {
    const all = await this.#r.plain(() => this.client.hgetall(this.#r.keys.replicas))
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, Number(v)]))
  }

  acquireLeader(replica: string, ttlMs: number, now: number): Promise<number> {
    return lease.acquireLeader(this.#r, replica, ttlMs, now)
  }

  renewLeader(replica: string, fence: number, ttlMs: number, now: number): Promise<boolean> {
    return lease.renewLeader(this.#r, replica, fence, ttlMs, now)
  }

  /** The lease's recent terms, newest first (Redis only: what a failover check reads). */
  leaseTerms(): Promise<LeaseTerm[]> {
    return lease.leaseTerms(this.#r)
  }

  releaseLeader(replica: string, fence: number): Promise<boolean> {
    return lease.releaseLeader(this.#r, replica, fence)
  }

  leader() {
    return lease.leader(this.#r)
  }

  commit(fence: number, ops: readonly StateOp[], logMaxLength: number, epoch?: string) {
    return log.commit(this.#r, fence, ops, logMaxLength, epoch)
  }

  read(afterSeq: number, count: number): Promise<LogRecord[]> {
    return log.read(this.#r, afterSeq, count)
  }

  /** Wait up to `blockMs` for entries after `afterSeq` (XREAD BLOCK, on its own connection). */
  tail(afterSeq: number, count: number, blockMs: number): Promise<LogRecord[]> {
    return log.tail(this.#r, afterSeq, count, blockMs)
  }

  bounds() {
    return log.bounds(this.#r)
  }

  close(): Promise<void> {
    return this.#r.close()
  }
}

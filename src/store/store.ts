/**
 * The Store: where a fleet's shared state lives. The memory store (embedded
 * default) and the Redis store implement the same interface and pass the
 * same conformance suite. Time always comes from the caller's clock (`now`
 * arguments), never from the store's, so the same arithmetic runs everywhere.
 */
import type { GcraParams } from '../limiter/gcra.js'

/** A budget's name: `<class>:delivery`, `<class>:tokens`, or `admission`. */
export type BucketName = string

/** One log entry: a signed message, who it is for (empty: everyone), and unsigned metadata. */
export interface LogRecord {
  readonly seq: number
  readonly to: readonly string[]
  readonly message: string
  /** For operators and checks (e.g. the delivery's time and cost); not sent to clients. */
  readonly meta?: string
}

/** One state write, applied all together with the others of a commit. */
export type StateOp =
  | {
      readonly op: 'log'
      readonly seq: number
      readonly to: readonly string[]
      readonly message: string
      readonly meta?: string
    }
  | { readonly op: 'set'; readonly field: string; readonly value: string }
  | { readonly op: 'del'; readonly field: string }
  | { readonly op: 'add'; readonly set: string; readonly members: readonly string[] }
  | { readonly op: 'drop'; readonly set: string }

/**
 * Events kept for the leader (the newest; `publish` trims the rest): what a
 * lagging leader has not read yet, up to this many. One that finds the
 * stream trimmed past what it read re-reads who is connected from presence.
 */
export const EVENTS_KEPT = 10_000

export interface Store {
  /** GCRA take of `cost` units (B1, B3). */
  take(
    bucket: BucketName,
    params: GcraParams,
    cost: number,
    now: number,
  ): Promise<{ ok: boolean; retryAfterMs: number }>
  /** GCRA grant of up to `want` whole units (B2 leases). */
  grant(
    bucket: BucketName,
    params: GcraParams,
    want: number,
    now: number,
  ): Promise<{ granted: number; retryAfterMs: number }>

  /**
   * GCRA grant of up to `want` whole units (B2 leases) to `clientId`, at
   * most its fair share of the bucket while other clients ask it too (see
   * gcraGrantShare); who asked lately, and each one's share, are kept for
   * FAIR_WINDOW_MS after their last ask. `inBursts`: a share's burst at a
   * time or none.
   */
  grantShare(
    bucket: BucketName,
    clientId: string,
    params: GcraParams,
    want: number,
    now: number,
    inBursts?: boolean,
  ): Promise<{ granted: number; retryAfterMs: number }>

  /**
   * Take or keep the leader lease: the fencing token if this replica leads,
   * else 0. The lease runs out on the store's own clock; `now` (the caller's
   * clock) is what the store records as the term's start or renewal.
   */
  acquireLeader(replica: string, ttlMs: number, now: number): Promise<number>
  /** Extend the lease; false once it is lost. `now` as for acquireLeader. */
  renewLeader(replica: string, fence: number, ttlMs: number, now: number): Promise<boolean>
  releaseLeader(replica: string, fence: number): Promise<boolean>
  /** Who leads now, if anyone. */
  leader(): Promise<{ replica: string; fence: number } | undefined>

  /**
   * Apply `ops` all or nothing under `fence` and, when given, only while the
   * fleet's epoch is `epoch` (fencing tokens start again in a store that lost
   * its state; an epoch never does). Throws FencedError when the token is
   * stale or the epoch gone; a RangeError when a log seq does not follow the
   * last one.
   */
  commit(
    fence: number,
    ops: readonly StateOp[],
    logMaxLength: number,
    epoch?: string,
  ): Promise<void>
  /** Every field of the state hash. */
  state(): Promise<Record<string, string>>
  /** Members of a set written by `add` ops. */
  members(set: string): Promise<string[]>
  /** Whether `member` is in a set written by `add` ops. */
  isMember(set: string, member: string): Promise<boolean>
  /** Log entries after `afterSeq`, oldest first, at most `count`. */
  read(afterSeq: number, count: number): Promise<LogRecord[]>
  /**
   * The log's first and last seq (0 when empty), its length, and its floor:
   * the highest seq trimmed away (0 if none). A client resuming from below
   * the floor has lost part of its gap.
   */
  bounds(): Promise<{ first: number; last: number; length: number; floor: number }>

  /** Wait up to `blockMs` for log entries after `afterSeq`. */
  tail(afterSeq: number, count: number, blockMs: number): Promise<LogRecord[]>

  /** One field of the state hash. */
  stateField(field: string): Promise<string | undefined>

  /**
   * The fleet's epoch: `candidate` becomes it if the store holds none (new,
   * or its state was lost); returns the one in force.
   */
  epoch(candidate: string): Promise<string>

  /** Record (or, with undefined, remove) a connected client, fleet-wide. */
  setPresence(clientId: string, record: string | undefined): Promise<void>
  presence(): Promise<Record<string, string>>
  /**
   * Forget a client's presence if it is still `record` (compare and delete):
   * true if removed. A newer stream's presence is never erased by an old one.
   */
  dropPresence(clientId: string, record: string): Promise<boolean>
  /**
   * A client's rewarm checkpoint for one change (its progress record), kept
   * `ttlMs` after the last write: a restarted coordinator reports progress
   * from here, a restarted client continues from it.
   */
  setRewarm(changeId: string, clientId: string, record: string, ttlMs: number): Promise<void>
  /** Every client's checkpoint of a rewarm: clientId → record. */
  rewarm(changeId: string): Promise<Record<string, string>>
  /** One client's checkpoint of a rewarm. */
  rewarmOf(changeId: string, clientId: string): Promise<string | undefined>
  /** Append an event for the leader (a join, leave or report), keeping the newest EVENTS_KEPT; returns its id. */
  publish(event: string): Promise<string>
  /** The id of the oldest event held ('0-0' when none): past what a reader read, some were trimmed. */
  firstEventId(): Promise<string>
  /** The id of the newest event ('0-0' when none): consume after it to see only what comes next. */
  lastEventId(): Promise<string>
  /** Events after `afterId` ('0' for all held), waiting up to `blockMs` for some. */
  events(afterId: string, count: number, blockMs: number): Promise<{ id: string; event: string }[]>
  /** This replica is alive until `until` (ms). */
  heartbeatReplica(replica: string, until: number): Promise<void>
  /** Replicas and when their liveness runs out. */
  replicas(): Promise<Record<string, number>>

  close(): Promise<void>
}

/**
 * What createClient takes (validated, with defaults), what stats() gives
 * and the events a client emits.
 */
import { z } from 'zod'
import type { Change } from '../model/change.js'
import type { Clock } from '../model/clock.js'
import { between, nonNegative, positive, positiveInt } from '../validate.js'
import { REWARM_HEARTBEAT_MS } from '../warmup/rewarm-options.js'

export const optionsSchema = z.strictObject({
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
  /**
   * The fleet this app server belongs to: messages of any other are refused,
   * and a coordinator of another fleet fails start() with E_WRONG_FLEET.
   * @default the coordinator's (learned from its signed hello)
   */
  fleet: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
      error: "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    })
    .optional(),
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
       * before `onOverBudget` decides, ms. Never unlimited: a reader must not
       * hang on a budget or a coordinator that cannot answer. 5 s covers a
       * lease call that times out and a few tokens at a slow rate, and is
       * still well inside the request timeouts of the proxies in front of
       * most app servers (30-60 s). @default 5000
       */
      maxWaitMs: positive().default(5000),
    })
    .prefault({}),
  guard: z
    .strictObject({
      /** Most entries that may go stale in any minute (half of it at once); the excess waits. @default 2 × cache.max */
      maxStalePerMinute: positive().optional(),
    })
    .prefault({}),
  /**
   * Key sketches (off unless set): heartbeats carry a Bloom filter of the
   * cached keys and the keys cached since, so a change to keys only reaches
   * this client only if it may hold one. Only for a client whose own cache
   * is where changes act (not with attachLruCache, nor 'change' listeners
   * that act on keys outside it). Staleness added: at most one heartbeat.
   */
  keySketch: z
    .strictObject({
      /** False-positive rate the filter is sized for (a false positive costs a frame). @default 0.01 */
      fpr: z
        .number()
        .refine((x) => x > 0 && x <= 0.5, { error: 'a rate in (0, 0.5]' })
        .default(0.01),
      /** A fresh filter at least this often, ms. @default 60000 */
      everyMs: positive().default(60_000),
      /** Most bytes of filter (the heartbeat body is bounded); past it the rate rises. @default 262144 */
      maxBytes: positive().default(256 * 1024),
    })
    .optional(),
  /** Heartbeat interval, ms. @default 10000 */
  heartbeatMs: positive().default(10_000),
  /** Heartbeat interval while a rewarm runs (the coordinator's adaptive rate feeds on it), ms. @default 1000 */
  rewarmHeartbeatMs: positive().default(REWARM_HEARTBEAT_MS),
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
  /**
   * The most bytes one stream event may take, and so any line of it (the
   * coordinator writes each message on one line): a larger one is refused
   * (`rejected.oversized`) and the stream cut and reconnected, so whoever
   * answers on the stream URL cannot make the client buffer without bound.
   * 32 MiB: twice the largest change a coordinator takes by default (an
   * NDJSON rewarm of `rewarm.maxBodyBytes`, 16 MiB), room for JSON escapes.
   * Raise both together. @default 33554432
   */
  maxMessageBytes: between(64 * 1024, 1024 * 1024 * 1024, { int: true }).default(32 * 1024 * 1024),
})

export type ClientOptionsInput = z.input<typeof optionsSchema>
export type ParsedClientOptions = z.output<typeof optionsSchema>

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
  /** The stream is open and the coordinator's signed hello was accepted. */
  readonly connected: boolean
  /** Connected, and not refusing what it is sent. */
  readonly healthy: boolean
  /** Set while the last messages (at least 3) were all refused for one reason: nothing applies. */
  readonly refusing?: { readonly reason: string; readonly count: number }
  /** The fleet followed (configured, or the coordinator's). */
  readonly fleet?: string
  /** The coordinator epoch followed: pass it with lastSeq to start() to resume after a restart. */
  readonly epoch?: string
  readonly lastSeq: number | undefined
  readonly applied: number
  /** Changes sent again that had been applied already (nothing done). */
  readonly duplicates: number
  readonly rejected: Readonly<Record<string, number>>
  readonly entries: number
  readonly refetchTokensUsed: number
  readonly staleWaiting: number
  /**
   * Refetch tokens come from a local bucket at this client's share of the
   * last known budget: the last lease call could not reach the coordinator.
   */
  readonly degraded: boolean
  /** Refetch tokens taken from the local bucket (degraded mode) so far. */
  readonly localTokensUsed: number
}

export interface SlewClientEvents {
  change: [change: Change]
  config: [values: Readonly<Record<string, unknown>>]
  reset: [reason: string]
  connected: []
  disconnected: [info: { reason: string; retryInMs: number }]
  rejected: [reason: string]
  error: [error: unknown]
  /** Leases cannot be had (`cause`: why the lease call failed): refetches go on under the local bucket. */
  degraded: [info: { cause: unknown }]
  /** A lease call succeeded again: tokens come from the coordinator again. */
  recovered: []
}

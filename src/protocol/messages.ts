/**
 * The wire: what the coordinator sends on the stream and what clients send
 * back. Shared by the coordinator and the SDK; neither imports the other.
 *
 * Stream events (SSE): every connection opens with a signed `hello` (the
 * fleet, the coordinator's epoch and the nonce the client connected with);
 * `change` and `config` carry `id:` = the fleet log's sequence number and are
 * signed; `reset` tells a client its gap is no longer in the log (mark
 * everything stale, softly); `goaway` tells it to come back after a delay
 * (shutdown, rebalancing); `ping` keeps the line alive.
 *
 * Sequence numbers order messages within one epoch: a lineage of state (one
 * memory-store process, one Redis until it is lost). A client that hears a
 * new epoch in its hello starts counting afresh; a message of any other
 * epoch than its current one changes nothing.
 */
import { createHash } from 'node:crypto'
import { z } from 'zod'
import { canonicalJson } from '../canonical-json.js'
import { bucketParamsSchema, tokenClasses } from '../model/budget.js'
import type { Change, Target } from '../model/change.js'
import { keysLeft, MAX_AHEAD, type RewarmReport } from '../model/rewarm.js'
import { nonNegative, nonNegativeInt, positive, positiveInt } from '../validate.js'
import { keySketchSchema } from './sketch.js'

export const PROTOCOL_VERSION = 1

/**
 * The first message of every connection (and again, on the same connection,
 * when the coordinator's epoch changes under it): who is speaking. `nonce`
 * is the one the client connected with, so an old hello replayed is refused.
 */
export interface HelloMessage {
  readonly v: typeof PROTOCOL_VERSION
  readonly type: 'hello'
  readonly fleet: string
  readonly epoch: string
  /** The log's last sequence number in this epoch (where a new client starts). */
  readonly seq: number
  readonly clientId: string
  readonly nonce?: string
}

/** A change delivered to the clients named in its log entry. */
export interface ChangeMessage {
  readonly v: typeof PROTOCOL_VERSION
  readonly type: 'change'
  readonly fleet: string
  readonly epoch: string
  readonly seq: number
  readonly change: Change
}

/** The fleet's config values as of `seq`: sent on connect so a new client starts current. */
export interface ConfigMessage {
  readonly v: typeof PROTOCOL_VERSION
  readonly type: 'config'
  readonly fleet: string
  readonly epoch: string
  readonly seq: number
  readonly values: Readonly<Record<string, unknown>>
}

/**
 * Your resume point is not in the log (trimmed away, or of an epoch whose
 * state was lost): keep your cache, mark it stale (soft), resume from `seq`.
 * `hard`: hard invalidations this client may have missed (recovered after a
 * restart, by change id); their entries go dead (never served again)
 * instead of stale, and their ids count as applied.
 */
export interface ResetMessage {
  readonly v: typeof PROTOCOL_VERSION
  readonly type: 'reset'
  readonly fleet: string
  readonly epoch: string
  readonly seq: number
  readonly reason: string
  readonly hard?: readonly { readonly id: string; readonly target: Target }[]
}

export type SignedStreamMessage = HelloMessage | ChangeMessage | ConfigMessage | ResetMessage

/** A digest of config values: SHA-256 of their canonical JSON, base64url (what heartbeats report). */
export const configDigest = (values: Readonly<Record<string, unknown>>): string =>
  createHash('sha256').update(canonicalJson(values)).digest('base64url')

/**
 * A client's checkpoint of one rewarm, as `GET /v1/clients/:id/rewarms`
 * hands it back to a (re)started client: signed like a stream message, for
 * that client and the nonce it asked with (an old answer replayed is
 * refused); the change itself travels beside it, bound by its digest.
 */
export interface RewarmResume {
  readonly v: typeof PROTOCOL_VERSION
  readonly type: 'rewarm-resume'
  readonly fleet: string
  readonly clientId: string
  readonly nonce: string
  readonly changeId: string
  /** changeDigest() of the change. */
  readonly digest: string
  readonly checkpoint: RewarmReport
}

/** One entry of the answer: the signed checkpoint, and the change when the rewarm is unfinished. */
export interface RewarmResumeEntry {
  readonly signed: RewarmResume & { readonly kid: string; readonly sig: string }
  readonly change?: Change
}

/** A change's digest: SHA-256 of its canonical JSON, base64url. */
export const changeDigest = (change: Change): string =>
  createHash('sha256').update(canonicalJson(change)).digest('base64url')

/** Not signed (it changes nothing): reconnect after `retryAfterMs`. */
export interface GoawayMessage {
  readonly type: 'goaway'
  readonly retryAfterMs: number
  readonly reason: string
}

export const rejectReasons = [
  'malformed',
  'unsigned',
  'unknown-kid',
  'bad-signature',
  'replayed',
  'wrong-fleet',
  'wrong-epoch',
  /** An event (or a line) over the client's maxMessageBytes: not read, the stream cut. */
  'oversized',
] as const
export type RejectReason = (typeof rejectReasons)[number]

/** Refusals one heartbeat may report for one reason; a client that refused more sends the rest later. */
/**
 * Refusal counts by reason, as a heartbeat carries them: each clamped at
 * MAX_REJECTED (a count of 2^53 would make the coordinator's counter
 * meaningless; refusing it would lock out a client that gives a failed
 * heartbeat's counts back to the next); reasons this version does not know
 * are dropped, not refused, so a newer SDK's heartbeat still gets through.
 */
export const rejectedCountsSchema = z
  .record(z.string(), z.unknown())
  .transform((counts) =>
    Object.fromEntries(
      Object.entries(counts).filter(([reason]) =>
        (rejectReasons as readonly string[]).includes(reason),
      ),
    ),
  )
  .pipe(
    z.partialRecord(
      z.enum(rejectReasons),
      nonNegativeInt().transform((n) => Math.min(n, MAX_REJECTED)),
    ),
  )

/** A RewarmReport (model/rewarm.ts) as a heartbeat carries it: a checkpoint a client could trust. */
export const rewarmReportSchema = z
  .object({
    /** Keys fetched (or found fresh). */
    done: nonNegativeInt(),
    /** Keys of the rewarm on this client (the change's list, or its own hot set). */
    total: nonNegativeInt(),
    /** Keys given up on after retries (origin errors). */
    failed: nonNegativeInt().optional(),
    /** Keys not fetched: this client's cache could not hold them (they would evict hotter ones). */
    skipped: nonNegativeInt().optional(),
    /** Keys of the change's list settled in order: all those before this index. */
    cursor: nonNegativeInt().optional(),
    /** Indexes past the cursor that are settled too (at most MAX_AHEAD). */
    ahead: z.array(nonNegativeInt()).max(MAX_AHEAD).optional(),
  })
  .superRefine((r, ctx) => {
    // A checkpoint a restarted client would trust: never more settled than it has.
    if (keysLeft(r) < 0)
      ctx.addIssue({
        code: 'custom',
        path: ['done'],
        message: 'done + failed + skipped at most total',
      })
    if (r.cursor !== undefined && r.cursor > r.total)
      ctx.addIssue({ code: 'custom', path: ['cursor'], message: 'at most total' })
    if (r.ahead?.some((i) => i <= (r.cursor ?? -1) || i >= r.total))
      ctx.addIssue({ code: 'custom', path: ['ahead'], message: 'indexes past cursor, below total' })
    // The indexes it names are the keys it settled, done or failed (all of them, unless it
    // names MAX_AHEAD past the cursor); skipped keys are only counted.
    if (r.cursor !== undefined) {
      const named = r.cursor + (r.ahead?.length ?? 0)
      const settled = r.done + (r.failed ?? 0)
      if (named > settled || ((r.ahead?.length ?? 0) < MAX_AHEAD && named !== settled))
        ctx.addIssue({
          code: 'custom',
          path: ['cursor'],
          message: 'cursor + ahead.length = done + failed',
        })
    }
  }) satisfies z.ZodType<RewarmReport>

/**
 * The most entries a client may say its cache holds (on the stream's
 * `?entries=` and in heartbeats; a `capacity` too): a billion, beyond any
 * app server's cache. More is refused (400), never taken as a price.
 */
export const MAX_ENTRIES = 1e9
/** The most refusals of one reason one heartbeat counts: more are counted as this many. */
export const MAX_REJECTED = 1e6
/** The most named business metrics one heartbeat may carry. */
export const MAX_METRICS = 100
/** The largest magnitude a business metric's value may have. */
export const MAX_METRIC_VALUE = 1e12

/** An integer in [0, max] (max: a bound the coordinator refuses beyond). */
const intUpTo = (min: 0 | 1, max: number) =>
  (min === 0 ? nonNegativeInt() : positiveInt()).refine((n) => n <= max, {
    error: `an integer in [${min}, ${max}]`,
  })

/** An origin latency, ms: up to an hour (bounded, so weighted sums stay finite). */
const latencyMs = () =>
  nonNegative().refine((x) => x <= 3_600_000, { error: 'a number in [0, 3600000]' })

/**
 * A heartbeat. Fields it does not know are dropped, not refused: an SDK newer
 * than its coordinator (a fleet upgraded app servers first) keeps reporting.
 */
const boundedMetric = () =>
  z.number().refine((x) => Number.isFinite(x) && Math.abs(x) <= MAX_METRIC_VALUE, {
    error: `a number in [-${MAX_METRIC_VALUE}, ${MAX_METRIC_VALUE}]`,
  })

export const heartbeatSchema = z.object({
  /** Highest log sequence number applied. */
  ackedSeq: nonNegativeInt().optional(),
  /** Entries in the client's cache. */
  entries: intUpTo(0, MAX_ENTRIES).optional(),
  /** Most entries the client's cache holds (a rewarm never fetches more). */
  capacity: intUpTo(1, MAX_ENTRIES).optional(),
  /** Origin latency percentiles over the last interval, ms. */
  latencyP50: latencyMs().optional(),
  latencyP99: latencyMs().optional(),
  /**
   * The client's event-loop lag over the same interval, ms (median, p99): what
   * its own CPU added to the latency figures, taken out of them when the
   * rewarm rate is set (see FleetHealth.originHealth).
   */
  loopDelayP50: latencyMs().optional(),
  loopDelayP99: latencyMs().optional(),
  /** Share of origin calls that failed over the last interval. */
  errorRate: z
    .number({ error: 'a number in [0, 1]' })
    .refine((x) => Number.isFinite(x) && x >= 0 && x <= 1, { error: 'a number in [0, 1]' })
    .optional(),
  /** Stream messages the client refused since its last heartbeat, by reason (each counts at most MAX_REJECTED). */
  rejected: rejectedCountsSchema.optional(),
  /**
   * The client has refused its last `count` messages, all for `reason`, and
   * applied none since: changes are not reaching its cache.
   */
  refusing: z
    .strictObject({
      reason: z.enum(rejectReasons),
      count: positiveInt().transform((n) => Math.min(n, MAX_ENTRIES)),
    })
    .optional(),
  /** configDigest() of the config values the client runs. */
  configDigest: z.string().max(64).optional(),
  /** The coordinator epoch the client follows. */
  epoch: z.string().max(64).optional(),
  /** Origin calls the latency and error figures come from. */
  calls: intUpTo(0, 1e9).optional(),
  /** Rewarm progress (the client's checkpoint), per change id. */
  rewarm: z
    .record(z.string().max(200), rewarmReportSchema)
    .refine((r) => Object.keys(r).length <= 100, { error: 'at most 100 rewarms' })
    .optional(),
  /** The interval the figures cover (since the last heartbeat), ms. */
  intervalMs: intUpTo(1, 86_400_000).optional(),
  /** App observations since the last heartbeat (count, sum, largest), for the gates: at most MAX_METRICS. */
  observed: z
    .record(
      z.string().min(1).max(100),
      z.strictObject({
        n: intUpTo(1, 1e9),
        sum: boundedMetric(),
        max: boundedMetric(),
      }),
    )
    .refine((m) => Object.keys(m).length <= MAX_METRICS, {
      error: `at most ${MAX_METRICS} metrics`,
    })
    .optional(),
  /**
   * The keys the client holds (a filter, when due or asked for) and those it
   * cached since its last heartbeat: a change to keys only then skips it if
   * it holds none of them. Sent only to a coordinator that asks.
   */
  sketch: keySketchSchema.optional(),
  /** App counts since the last heartbeat (SDK count()), for the gates: at most MAX_METRICS, each bounded. */
  metrics: z
    .record(z.string().min(1).max(100), boundedMetric())
    .refine((m) => Object.keys(m).length <= MAX_METRICS, {
      error: `at most ${MAX_METRICS} metrics`,
    })
    .optional(),
})
export type Heartbeat = z.infer<typeof heartbeatSchema>

export const leaseRequestSchema = z.strictObject({
  clientId: z.string().min(1).max(200),
  want: positiveInt().refine((n) => n <= 100_000, { error: 'an integer in [1, 100000]' }),
  class: z.enum(tokenClasses).default('invalidate'),
})
export type LeaseRequest = z.input<typeof leaseRequestSchema>

export interface LeaseResponse {
  readonly granted: number
  readonly ttlMs: number
  readonly retryAfterMs: number
}

/**
 * What a heartbeat's answer tells a client besides `seq`: the terms it
 * refetches under while leases cannot be had (degraded mode, S). Each
 * class's token rate and burst in force (rewarm: its adaptive rate), the
 * clients connected fleet-wide, the lease TTL. All optional, and more is
 * not refused: an older coordinator sends none of them.
 */
export const leaseTermsSchema = z.object({
  budgets: z
    .object({
      invalidate: bucketParamsSchema.strip(),
      rewarm: bucketParamsSchema.strip(),
      urgent: bucketParamsSchema.strip(),
    })
    .optional(),
  fleetSize: nonNegativeInt().optional(),
  leaseTtlMs: positive().optional(),
})
export type LeaseTerms = z.infer<typeof leaseTermsSchema>

/** `POST /v1/clients/:id/heartbeat` answers this. */
export interface HeartbeatAnswer extends LeaseTerms {
  readonly ok: true
  /** The latest log sequence number known to the replica that answered. */
  readonly seq: number
}

export const controlSchema = z.strictObject({ reason: z.string().max(500).optional() })

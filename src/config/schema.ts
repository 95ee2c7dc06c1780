/**
 * The coordinator's config file (`slew.config.yaml` or `.json`): the engine's
 * settings plus where to listen, which store, admission, auth and signing.
 * One zod schema; every field has a default, so an empty file is valid.
 */
import { z } from 'zod'
import { gatesSchema } from '../gates/options.js'
import { engineConfigSchema } from '../invalidation/options.js'
import { budgetSchema } from '../model/budget.js'
import { between, nonNegativeInt } from '../validate.js'
import { rewarmSchema } from '../warmup/rewarm-options.js'
import { watchSchema } from '../watch/options.js'

export const scopes = ['push', 'admin', 'client', 'read', 'metrics'] as const
export type Scope = (typeof scopes)[number]

const secretRef = z
  .strictObject({
    /** Environment variable that holds the secret (preferred). */
    secretEnv: z.string().min(1).optional(),
    /** The secret itself (tests, local use; keep it out of version control). */
    secret: z.string().min(16, { error: 'a string of at least 16 characters' }).optional(),
  })
  .refine((s) => (s.secretEnv === undefined) !== (s.secret === undefined), {
    error: 'exactly one of secretEnv or secret',
  })

// The engine's configBytes is `limits.configBytes` here, beside the other limits.
export const configSchema = engineConfigSchema.omit({ configBytes: true }).extend({
  listen: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: nonNegativeInt()
        .refine((p) => p <= 65535, { error: 'a port in [0, 65535]' })
        .default(7070),
    })
    .prefault({}),
  store: z
    .discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('memory') }),
      z
        .strictObject({
          kind: z.literal('redis'),
          /** One Redis: redis://host:port */
          url: z.string().min(1).optional(),
          /** Redis Cluster: some of its nodes, "host:port". */
          nodes: z
            .array(z.string().regex(/^[^:]+:\d+$/, { error: 'host:port' }))
            .min(1)
            .optional(),
        })
        .refine((s) => (s.url === undefined) !== (s.nodes === undefined), {
          error: 'exactly one of url (one Redis) or nodes (a Cluster)',
        }),
    ])
    .default({ kind: 'memory' }),
  /** New stream connections (B3). */
  admission: budgetSchema.default({ ratePerSec: 200, burst: 100 }),
  /** A change touching more than this share of the fleet needs `confirm: true` and a `reason`. */
  confirmAbove: z
    .number({ error: 'a number in [0, 1]' })
    .refine((x) => Number.isFinite(x) && x >= 0 && x <= 1, { error: 'a number in [0, 1]' })
    .default(0.5),
  auth: z
    .strictObject({
      tokens: z
        .array(
          z
            .strictObject({
              name: z.string().min(1),
              scopes: z.array(z.enum(scopes)).min(1, { error: 'at least one scope' }),
              /** Client ids this token may act as, `*` matching any run of characters; any if absent. */
              clientIds: z
                .array(
                  z.string().regex(/^[\w.:@*-]{1,200}$/, {
                    error: 'a client id pattern: 1-200 of [A-Za-z0-9_.:@-] and *',
                  }),
                )
                .min(1, { error: 'at least one pattern' })
                .optional(),
              secretEnv: z.string().min(1).optional(),
              secret: z
                .string()
                .min(16, { error: 'a string of at least 16 characters' })
                .optional(),
            })
            .refine((t) => (t.secretEnv === undefined) !== (t.secret === undefined), {
              error: 'exactly one of secretEnv or secret',
            }),
        )
        .default([]),
    })
    .prefault({}),
  signing: z
    .strictObject({
      activeKid: z.string().min(1),
      keys: z.record(z.string().min(1), secretRef),
    })
    .refine((s) => Object.hasOwn(s.keys, s.activeKid), {
      error: 'keys that include activeKid',
    })
    .optional(),
  stream: z
    .strictObject({
      /** Ping interval, ms, in [100, 300000]. @default 15000 */
      pingMs: between(100, 300_000).default(15_000),
      /** Spread of the come-back delays told to clients at shutdown, ms (at least clients ÷ admission rate; at most an hour). */
      drainMs: between(1, 3_600_000).default(5_000),
      /**
       * Most bytes one stream may hold unsent (its client is not reading);
       * beyond, it is cut and resumes from the log when it reconnects. @default 4 MiB
       */
      maxBufferedBytes: between(65_536, 1024 ** 3, { int: true }).default(4 * 1024 * 1024),
      /**
       * Most bytes all streams together may hold unsent; beyond, the streams
       * holding most are cut until the rest fit. @default 256 MiB
       */
      maxBufferedTotalBytes: between(65_536, 64 * 1024 ** 3, { int: true }).default(
        256 * 1024 * 1024,
      ),
    })
    .refine((s) => s.maxBufferedTotalBytes >= s.maxBufferedBytes, {
      path: ['maxBufferedTotalBytes'],
      error: 'at least stream.maxBufferedBytes',
    })
    .prefault({}),
  limits: z
    .strictObject({
      /** Largest request body, bytes (at most 1 GiB). @default 1 MiB */
      bodyBytes: between(1, 1024 ** 3, { int: true }).default(1_048_576),
      /**
       * Deepest nesting of arrays and objects in a JSON body; a config value
       * may nest half of it (what carries a value nests it further). @default 64
       */
      jsonDepth: between(8, 512, { int: true }).default(64),
      /** Most object keys in one JSON body, counted over all its objects. @default 100000 */
      jsonKeys: between(1, 10_000_000, { int: true }).default(100_000),
      /** Most keys in one config change's values (names and nested keys). @default 10000 */
      configKeys: between(1, 1_000_000, { int: true }).default(10_000),
      /**
       * Most bytes the fleet's config values may take as JSON, all keys
       * together (a new client's first frame carries them); a config change
       * beyond it is refused, 413 E_CONFIG_TOO_LARGE. @default 4 MiB
       */
      configBytes: between(1, 1024 ** 3, { int: true }).default(4 * 1024 * 1024),
      /** A request's headers must all arrive within this, ms. @default 10000 */
      headersTimeoutMs: between(1000, 120_000, { int: true }).default(10_000),
      /**
       * A whole request (headers and body) must arrive within this, ms; a
       * stream is not cut by it (its request is complete once its headers
       * are in). @default 30000
       */
      requestTimeoutMs: between(1000, 3_600_000, { int: true }).default(30_000),
      /** An idle keep-alive connection is closed after this, ms. @default 5000 */
      keepAliveTimeoutMs: between(100, 600_000, { int: true }).default(5_000),
      /** Most connections open at once, streams included (less if descriptors are fewer). @default 20000 */
      connections: between(1, 1_000_000, { int: true }).default(20_000),
      /** Most connections one remote address holds open at once, streams not counted. @default 256 */
      connectionsPerAddress: between(1, 1_000_000, { int: true }).default(256),
    })
    .refine((l) => l.requestTimeoutMs >= l.headersTimeoutMs, {
      path: ['requestTimeoutMs'],
      error: 'at least limits.headersTimeoutMs',
    })
    .prefault({}),
  /** Rewarm: the adaptive fleet rate (AIMD on the origin's latency and errors, from heartbeats). */
  rewarm: rewarmSchema.prefault({}),
  /** Guarded rollouts: what every rollout is watched on, and what a verdict does. */
  gates: gatesSchema.prefault({}),
  /** Business metrics watched: an incident pauses every rolling rollout (fixed: a restart changes it). */
  watch: watchSchema,
  /** Several coordinators on one Redis (store.kind: redis). */
  replication: z
    .strictObject({
      /** The leader lease, ms, in [100, 600000]: a dead leader is replaced within it. @default 3000 */
      leaseMs: between(100, 600_000).default(3000),
    })
    .prefault({}),
  log: z
    .strictObject({
      /** Delivery log entries kept for clients that resume (at most 10 million). @default 10000 */
      maxEntries: between(1, 10_000_000, { int: true }).default(10_000),
      /**
       * And at most this many bytes of them, frames and recipient lists
       * (about 32 bytes a recipient; memory store; large config changes and
       * fleet-wide deliveries fill it first): a client resuming from further
       * back gets a reset. @default 64 MiB
       */
      maxBytes: between(1024, 64 * 1024 ** 3, { int: true }).default(64 * 1024 * 1024),
    })
    .prefault({}),
})

export type ConfigInput = z.input<typeof configSchema>
export type Config = z.output<typeof configSchema>

/** The parts of the config a running coordinator can change (PUT /v1/config). */
export const liveFields = [
  'budgets',
  'waves',
  'leases',
  'defaultEntries',
  'retainFinished',
  'sketches',
  'admission',
  'confirmAbove',
  'rewarm',
  'gates',
] as const satisfies readonly (keyof Config)[]

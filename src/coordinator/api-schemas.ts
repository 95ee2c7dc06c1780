/**
 * What the coordinator's routes answer, as zod schemas: the one written
 * form of each response, converted into the OpenAPI document (openapi.ts)
 * and held against real answers by test/integration/openapi.test.ts. An
 * object is closed where its handler builds every member, loose where it
 * carries open-ended ones (a problem's extension members).
 */
import { z } from 'zod'
import { configSchema } from '../config/schema.js'
import { httpOnlyCodes, raisedCodes } from '../error-codes.js'
import { changeGateSchema } from '../gates/options.js'
import type { GateRecord } from '../gates/watcher.js'
import { targetSchema } from '../invalidation/change.js'
import type { LeaseGrant } from '../invalidation/engine-options.js'
import type { Plan } from '../invalidation/plan.js'
import { rolloutStates } from '../invalidation/states.js'
import { budgetClasses } from '../model/budget.js'
import { changeKinds } from '../model/change.js'
import { leaseTermsSchema, rejectReasons, rewarmReportSchema } from '../protocol/messages.js'
import type { IncidentView, WatchStatus } from './business.js'
import type { RecallOutcome } from './recall.js'

/** A time: ms since the Unix epoch, on the coordinator's clock (not always whole). */
const at = () => z.number().meta({ description: 'ms since the Unix epoch' })
const count = () => z.int().min(0)
const names = () => z.array(z.string())

/** RFC 9457 problem+json: a registered `code`, its HTTP status, and members that explain it. */
export const problemSchema = z.looseObject({
  type: z.string().meta({ description: '`urn:slew:error:<code>`' }),
  title: z.string(),
  status: z.int().min(400).max(599),
  code: z.enum([...raisedCodes, ...httpOnlyCodes]),
  detail: z.string().optional(),
})

/** A change with its identity, as the engine keeps it and clients get it (model/change.ts). */
export const changeSchema = z.object({
  id: z.string(),
  seq: z.number(),
  kind: z.enum(changeKinds),
  target: targetSchema.optional(),
  values: z.record(z.string(), z.unknown()).optional(),
  unset: names().optional(),
  mode: z.enum(['soft', 'hard']),
  priority: z.enum(['normal', 'urgent']),
  reason: z.string().optional(),
  submittedAt: at(),
  rollbackOf: z.string().optional(),
})

const shards = () => z.tuple([count(), count()]).meta({ description: 'shards [lo, hi)' })
const budget = () => z.object({ ratePerSec: z.number(), burst: z.number() })

/** One wave of a plan, as a dry run and a push's answer both give it. */
const planWave = () => ({
  index: count(),
  shards: shards(),
  fraction: z.number(),
  clients: count(),
  cost: z.number(),
})

/** A dry run's plan: the change run through the engine on a virtual clock (invalidation/plan.ts). */
export const planSchema = z.object({
  waves: z.array(z.object({ ...planWave(), startMs: z.number(), endMs: z.number() })),
  clients: count(),
  totalCost: z.number(),
  estimatedMs: z.number(),
  idealMs: z.number(),
  peakUnitsPerSec: z.number(),
  originBoundPerSec: z.number(),
  budget: budget(),
}) satisfies z.ZodType<Plan>

export const dryRunSchema = z.object({
  dryRun: z.literal(true),
  blastRadius: z.number(),
  confirmRequired: z.boolean(),
  plan: planSchema,
})

export const acceptedSchema = z.object({
  id: z.string(),
  state: z.enum(rolloutStates),
  /** Into a rollout already under way: by what (false: a new rollout). */
  coalesced: z.union([z.literal(false), z.enum(['idempotencyKey', 'target'])]),
  blastRadius: z.number(),
  plan: z.object({
    waves: z.array(z.object(planWave())),
    estimatedMs: z.number(),
    peakUnitsPerSec: z.number(),
  }),
})

const verdict = () => z.enum(['pass', 'fail', 'inconclusive', 'no-data', 'idle'])
const cohort = () => z.object({ clients: count(), samples: count(), mean: z.number() })

/** What a rollout's gate saw and did (gates/watcher.ts GateRecord). */
export const gateRecordSchema = z.object({
  mode: z.enum(['cohort', 'baseline', 'watch-after']),
  verdict: verdict(),
  checks: z.array(
    z.object({
      metric: z.string(),
      verdict: verdict(),
      reason: z.string(),
      treated: cohort(),
      control: cohort(),
      effect: z.object({ estimate: z.number(), lower: z.number(), upper: z.number() }).optional(),
      threshold: z.number(),
      alpha: z.number(),
      at: at(),
    }),
  ),
  history: z.array(z.object({ verdict: verdict(), at: at() })),
  action: z
    .object({ kind: z.enum(['rollback', 'pause']), reason: z.string(), at: at() })
    .optional(),
  until: at().optional(),
}) satisfies z.ZodType<GateRecord>

/** A rollout as the API shows it (routes/changes.ts `present`). */
export const rolloutSchema = z.object({
  id: z.string(),
  state: z.enum(rolloutStates),
  phase: z.enum(['delivering', 'baking', 'done']),
  reason: z.string().optional(),
  change: changeSchema,
  budgetClass: z.enum(budgetClasses),
  wave: z.int().min(-1).meta({ description: 'the wave it is on, 0-based (-1: none started)' }),
  waves: z.array(
    z.object({
      index: count(),
      shards: shards(),
      fraction: z.number(),
      queued: count(),
      skipped: count().optional().meta({
        description:
          'clients of the wave not sent a keys-only change: their key sketch lacks its keys',
      }),
      delivered: count(),
      acked: count(),
      cost: z.number(),
      startedAt: at().optional(),
      deliveredAt: at().optional(),
    }),
  ),
  delivered: count(),
  acked: count(),
  refused: count().meta({ description: 'clients it reached that refuse every message' }),
  refusedFor: names().optional(),
  warnings: names(),
  deliveredCost: z.number(),
  progress: z.number().min(0).max(1),
  coalesced: count(),
  superseded: names().optional(),
  rewarm: z
    .object({
      keysDone: count(),
      keysFailed: count(),
      keysSkipped: count(),
      keysOrphaned: count(),
      keysTotal: count(),
      clientsReporting: count(),
      clientsGone: count(),
      ratePerSec: z.number(),
      etaMs: z.number(),
    })
    .optional(),
  ownGate: changeGateSchema.optional(),
  gate: gateRecordSchema.optional(),
  createdAt: at(),
  bakeUntil: at().optional(),
  endedAt: at().optional(),
})

export const rolloutListSchema = z.object({ changes: z.array(rolloutSchema) })

/** `POST /v1/clients/:id/heartbeat`: the degraded-mode terms (LeaseTerms) and what to do now. */
export const heartbeatAnswerSchema = leaseTermsSchema.extend({
  ok: z.literal(true),
  seq: z.number(),
  heartbeatMs: z.number().optional(),
  holdRamps: names().optional(),
  /** Key sketches are used here: 'want' (send a filter next), 'ok'. Absent: not used. */
  sketch: z.enum(['want', 'ok']).optional(),
})

export const rewarmsSchema = z.object({
  rewarms: z.array(
    z.object({
      signed: z.object({
        v: z.literal(1),
        fleet: z.string(),
        epoch: z.string(),
        type: z.literal('rewarm-resume'),
        clientId: z.string(),
        nonce: z.string(),
        changeId: z.string(),
        digest: z.string(),
        checkpoint: rewarmReportSchema,
        kid: z.string(),
        sig: z.string(),
      }),
      change: changeSchema.optional(),
    }),
  ),
})

export const recallOutcomeSchema = z.object({
  adopted: z.boolean(),
  recovered: names(),
  refused: count(),
}) satisfies z.ZodType<RecallOutcome>

export const leaseGrantSchema = z.object({
  granted: count(),
  ttlMs: z.number(),
  retryAfterMs: z.number(),
}) satisfies z.ZodType<LeaseGrant>

export const fleetSchema = z.object({
  fleet: z.string(),
  epoch: z.string(),
  connected: count(),
  refusing: z.array(z.object({ id: z.string(), reason: z.string() })),
  configSplit: names(),
  turnedAway: z.array(
    z.object({ clientId: z.string(), reason: z.string(), at: at(), detail: z.string().optional() }),
  ),
  shards: count(),
  byShard: z.array(count()),
  clients: z.array(
    z.object({
      id: z.string(),
      replica: z.string().optional(),
      connectedAt: at().optional(),
      heartbeatAt: at().optional(),
      entries: count().optional(),
      ackedSeq: z.number().optional(),
      epoch: z.string().optional(),
      errorRate: z.number().optional(),
      latencyP50: z.number().optional(),
      latencyP99: z.number().optional(),
      loopDelayP50: z.number().optional(),
      loopDelayP99: z.number().optional(),
      calls: count().optional(),
      rejected: z.partialRecord(z.enum(rejectReasons), count()).optional(),
      configDigest: z.string().optional(),
      refusing: z.object({ reason: z.enum(rejectReasons), count: count() }).optional(),
    }),
  ),
})

/** One version of the coordinator's own config (secrets shown as `***`). */
const configVersion = {
  version: z.int().min(1),
  at: at(),
  who: z.string(),
  why: z.string(),
  config: configSchema,
}
const configChanges = () =>
  z.array(z.object({ path: z.string(), from: z.unknown(), to: z.unknown() }))

export const configVersionSchema = z.object(configVersion)
export const configChangedSchema = z.object({ ...configVersion, changes: configChanges() })
export const configDryRunSchema = z.object({ dryRun: z.literal(true), changes: configChanges() })
export const configHistorySchema = z.object({ versions: z.array(configVersionSchema) })

export const metricsAcceptedSchema = z.object({ accepted: count() })

const cohortRate = () => z.object({ clients: count(), samples: count(), rate: z.number() })

/** An incident of the business watch (coordinator/business.ts IncidentView). */
export const incidentSchema = z.object({
  id: z.string(),
  metric: z.string(),
  worse: z.enum(['lower', 'higher']),
  openedAt: at(),
  since: at(),
  expected: z.number(),
  observed: z.number(),
  closedAt: at().optional(),
  paused: names(),
  attribution: z
    .object({
      at: at(),
      summary: z.string(),
      suspects: z.array(
        z.object({
          rolloutId: z.string(),
          kind: z.enum(changeKinds),
          wave: z.int().min(1),
          score: z.number(),
          leadMs: z.number(),
          effect: z
            .object({
              relative: z.number(),
              low: z.number(),
              high: z.number(),
              z: z.number(),
              treated: cohortRate(),
              control: cohortRate(),
            })
            .optional(),
          line: z.string(),
        }),
      ),
    })
    .optional()
    .meta({ description: 'absent only on an incident kept from an older leader' }),
}) satisfies z.ZodType<IncidentView>

/** A watched metric now (coordinator/business.ts WatchStatus). */
export const watchStatusSchema = z.object({
  metric: z.string(),
  mode: z.enum(['seasonal', 'level']),
  learning: z.string().optional(),
  expected: z.number().optional(),
  noise: z.number().optional(),
  last: z.object({ at: at(), value: z.number() }).optional(),
  warmingUp: z.string().optional(),
}) satisfies z.ZodType<WatchStatus>

export const incidentsSchema = z.object({
  incidents: z.array(incidentSchema),
  watching: z.array(watchStatusSchema),
})

export const healthSchema = z.object({ ok: z.literal(true) })

/** GET /openapi.json: this document (an OpenAPI 3.1 object, not described further here). */
export const openApiSchema = z.looseObject({
  openapi: z.string().regex(/^3\.1\.\d+$/),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
})

export const readinessSchema = z.object({
  ready: z.boolean(),
  reason: z.string().optional(),
  store: z.enum(['memory', 'redis']),
  role: z.enum(['leader', 'follower']),
  streams: count(),
})

/** Stream events' data (the `data:` line), by event name; signed ones carry `kid` and `sig`. */
const signed = {
  v: z.literal(1),
  fleet: z.string(),
  epoch: z.string(),
  kid: z.string(),
  sig: z.string(),
}
export const streamEventSchemas = {
  hello: z.object({
    ...signed,
    type: z.literal('hello'),
    seq: z.number(),
    clientId: z.string(),
    nonce: z.string().optional(),
  }),
  change: z.object({ ...signed, type: z.literal('change'), seq: z.number(), change: changeSchema }),
  config: z.object({
    ...signed,
    type: z.literal('config'),
    seq: z.number(),
    values: z.record(z.string(), z.unknown()),
  }),
  reset: z.object({
    ...signed,
    type: z.literal('reset'),
    seq: z.number(),
    reason: z.string(),
    hard: z.array(z.object({ id: z.string(), target: targetSchema })).optional(),
  }),
  goaway: z.object({ type: z.literal('goaway'), retryAfterMs: z.number(), reason: z.string() }),
  ping: z.object({ at: at() }),
} as const

/**
 * What the OpenAPI document says that zod cannot: each route's path, token
 * scope, parameters, answers and the error codes it answers with, and the
 * request bodies the routes parse (their own zod schemas). openapi.ts turns
 * this table into the document; its test holds it to `app.routes`.
 */
import type { Scope } from '../config/schema.js'
import type { ErrorCode } from '../error-codes.js'
import { changeInputSchema } from '../invalidation/change.js'
import { rolloutStates } from '../invalidation/states.js'
import {
  controlSchema,
  heartbeatSchema,
  leaseRequestSchema,
  MAX_ENTRIES,
} from '../protocol/messages.js'
import { recallSchema } from './recall.js'
import { CLIENT_ID, NONCE } from './routes/clients.js'
import { putSchema, rollbackSchema } from './routes/config.js'
import { metricsBodySchema } from './routes/metrics.js'
import { STREAM_QUERY } from './routes/stream.js'

/** Request bodies, as the routes parse them (read as input: defaults are optional). */
export const requests = {
  ChangeInput: changeInputSchema,
  Control: controlSchema,
  ConfigPut: putSchema,
  ConfigRollback: rollbackSchema,
  Heartbeat: heartbeatSchema,
  Recall: recallSchema,
  LeaseRequest: leaseRequestSchema,
  MetricsPost: metricsBodySchema,
}

export interface Answer {
  readonly status: number
  readonly what: string
  /** Its component (JSON); several: one of them. */
  readonly schema?: string | readonly string[]
  /** Not JSON: the content type (a string). */
  readonly media?: string
}
export interface Param {
  readonly name: string
  readonly in: 'query' | 'path' | 'header'
  readonly what: string
  readonly schema: Record<string, unknown>
  readonly required?: boolean
}
export interface Op {
  readonly method: 'get' | 'post' | 'put'
  /** hono's pattern (`:id`). */
  readonly path: string
  /** The token scope (`ctx.auth.require`); none: public. */
  readonly scope?: Scope
  readonly summary: string
  readonly ok: readonly Answer[]
  readonly params?: readonly Param[]
  /** The request body's component; `ndjson`: an NDJSON variant too. */
  readonly body?: { readonly schema: keyof typeof requests; readonly ndjson?: boolean }
  /** Codes the route itself answers with, beside those of auth, bodies and the store. */
  readonly errors?: readonly ErrorCode[]
}

const op = (
  route: `${'GET' | 'POST' | 'PUT'} /${string}`,
  scope: Scope | 'public',
  summary: string,
  ok: readonly Answer[],
  more: Pick<Op, 'params' | 'body' | 'errors'> = {},
): Op => {
  const [method, path] = route.split(' ') as [string, string]
  return {
    method: method.toLowerCase() as Op['method'],
    path,
    ...(scope !== 'public' && { scope }),
    summary,
    ok,
    ...more,
  }
}
const json = (schema: string | readonly string[], what: string, status = 200): Answer => ({
  status,
  what,
  schema,
})
const text = (media: string, what: string): Answer => ({ status: 200, what, media })

const str = (pattern: RegExp) => ({ type: 'string', pattern: pattern.source })
const query = (name: string, what: string, schema: Record<string, unknown>, required = false) =>
  ({ name, in: 'query', what, schema, required }) as const
const flag = (name: string, what: string): Param =>
  query(name, `${what} (any value but \`0\` or \`false\`)`, { type: 'string' })
const clientId: Param = { name: 'id', in: 'path', what: 'the client id', schema: str(CLIENT_ID) }
const rolloutId: Param = { name: 'id', in: 'path', what: 'the rollout id', schema: {} }
const seqOf = str(/^\d+$/)

const control = (action: 'pause' | 'resume' | 'abort' | 'rollback', summary: string): Op =>
  op(`POST /v1/changes/:id/${action}`, 'admin', summary, [json('Rollout', 'the rollout now')], {
    params: [rolloutId],
    body: { schema: 'Control' },
    errors: [
      'E_UNKNOWN_ROLLOUT',
      'E_ILLEGAL_TRANSITION',
      ...(action === 'rollback' ? (['E_NOT_CONFIG_CHANGE'] as const) : []),
    ],
  })

/** Every route (app.ts registers them; the test holds this table to `app.routes`). */
export const ops: readonly Op[] = [
  op(
    'POST /v1/changes',
    'push',
    'Submit a change (JSON, or NDJSON: the change on the first line, then one key a line)',
    [json('Accepted', 'accepted', 202), json('DryRun', 'a dry run: the plan')],
    {
      params: [flag('dryRun', 'only plan it')],
      body: { schema: 'ChangeInput', ndjson: true },
      errors: ['E_CONFIRM_REQUIRED', 'E_IDEMPOTENCY_CONFLICT', 'E_CONFIG_TOO_LARGE'],
    },
  ),
  op('GET /v1/changes', 'read', 'Rollouts, newest first', [json('RolloutList', 'the rollouts')], {
    params: [query('state', 'only rollouts in this state', { enum: [...rolloutStates] })],
  }),
  op('GET /v1/changes/:id', 'read', 'One rollout', [json('Rollout', 'the rollout')], {
    params: [rolloutId],
    errors: ['E_UNKNOWN_ROLLOUT'],
  }),
  control('pause', 'Pause a rollout'),
  control('resume', 'Resume a paused rollout'),
  control('abort', 'Abort a rollout'),
  control('rollback', 'Roll back a config change, in its waves'),
  op('GET /v1/config', 'admin', "The coordinator's own config", [
    json('ConfigVersion', 'the current version'),
  ]),
  op(
    'PUT /v1/config',
    'admin',
    'Change the live parts of the config (a new version)',
    [
      json(
        ['ConfigChanged', 'ConfigDryRun'],
        'the new version and what changed (a dry run: what would)',
      ),
    ],
    {
      params: [flag('dryRun', 'only show what would change')],
      body: { schema: 'ConfigPut' },
      errors: ['E_CONFIG_NEEDS_RESTART'],
    },
  ),
  op('GET /v1/config/history', 'admin', 'Every config version, with who and why', [
    json('ConfigHistory', 'the versions, oldest first'),
  ]),
  op(
    'POST /v1/config/rollback',
    'admin',
    'Return to an earlier config version (as a new version)',
    [json('ConfigChanged', 'the new version and what changed')],
    { body: { schema: 'ConfigRollback' }, errors: ['E_NOT_FOUND', 'E_CONFIG_NEEDS_RESTART'] },
  ),
  op(
    'GET /v1/stream',
    'client',
    "A client's stream of changes: server-sent events, named in the answer's `x-slew-events`",
    [text('text/event-stream', 'the stream')],
    {
      params: [
        query('clientId', 'who', str(CLIENT_ID), true),
        query('since', 'resume after this sequence number (Last-Event-ID wins)', seqOf),
        {
          name: 'Last-Event-ID',
          in: 'header',
          what: 'resume after this sequence number',
          schema: seqOf,
        },
        query('entries', "entries in the client's cache", {
          type: 'integer',
          minimum: 0,
          maximum: MAX_ENTRIES,
        }),
        ...(
          [
            ['epoch', 'the epoch it follows'],
            ['nonce', 'its nonce, signed back in the hello'],
            ['fleet', "the SDK's fleet (another is turned away)"],
          ] as const
        ).map(([name, what]) =>
          query(name, `${what}: ${STREAM_QUERY[name].rule}`, str(STREAM_QUERY[name].pattern)),
        ),
      ],
      errors: ['E_WRONG_FLEET', 'E_OVERLOADED', 'E_INVALID_OPTION', 'E_BODY_TOO_LARGE'],
    },
  ),
  op(
    'POST /v1/clients/:id/heartbeat',
    'client',
    "A client's health, acks and rewarm progress",
    [json('HeartbeatAnswer', 'what the client does now')],
    { params: [clientId], body: { schema: 'Heartbeat' } },
  ),
  op(
    'GET /v1/clients/:id/rewarm/:changeId',
    'client',
    "A client's checkpoint of one rewarm",
    [json('RewarmCheckpoint', 'the checkpoint')],
    {
      params: [
        clientId,
        { name: 'changeId', in: 'path', what: 'the rewarm', schema: { maxLength: 200 } },
      ],
      errors: ['E_INVALID_OPTION', 'E_NOT_FOUND'],
    },
  ),
  op(
    'GET /v1/clients/:id/rewarms',
    'client',
    "A (re)started client's unfinished rewarms, signed for its nonce",
    [json('Rewarms', 'the checkpoints')],
    {
      params: [clientId, query('nonce', "the caller's nonce", str(NONCE), true)],
      errors: ['E_INVALID_OPTION'],
    },
  ),
  op(
    'POST /v1/clients/:id/recall',
    'client',
    'What a client proves of the epoch before this coordinator lost its state',
    [json('RecallOutcome', 'what was adopted and recovered')],
    { params: [clientId], body: { schema: 'Recall' } },
  ),
  op(
    'POST /v1/leases',
    'client',
    'Refetch tokens, in fair shares',
    [json('LeaseGrant', 'granted')],
    {
      body: { schema: 'LeaseRequest' },
    },
  ),
  op('GET /v1/fleet', 'read', 'Connected clients, by shard', [json('Fleet', 'the fleet')], {
    params: [
      query('limit', 'clients listed at most (clamped to [0, 10000])', {
        type: 'integer',
        default: 1000,
      }),
    ],
  }),
  op(
    'POST /v1/metrics',
    'metrics',
    'Points of series measured elsewhere, for the business watch',
    [json('MetricsAccepted', 'kept', 202)],
    { body: { schema: 'MetricsPost' } },
  ),
  op('GET /v1/incidents', 'read', "The business watch's incidents and what it watches", [
    json('Incidents', 'incidents, newest first, and the watched metrics'),
  ]),
  op('GET /metrics', 'public', 'Prometheus metrics', [text('text/plain', 'the text format')]),
  op('GET /healthz', 'public', 'Liveness', [json('Health', 'alive')]),
  op('GET /readyz', 'public', 'Readiness: can this replica do its work', [
    json('Readiness', 'ready'),
    json('Readiness', 'not ready, and why', 503),
  ]),
  op('GET /', 'public', 'The dashboard', [text('text/html', 'a page')]),
  op('GET /dashboard/app.js', 'public', "The dashboard's script", [
    text('text/javascript', 'a script'),
  ]),
  op('GET /dashboard/style.css', 'public', "The dashboard's style sheet", [
    text('text/css', 'a style sheet'),
  ]),
  op('GET /openapi.json', 'public', 'This document', [json('OpenApi', 'OpenAPI 3.1')]),
]

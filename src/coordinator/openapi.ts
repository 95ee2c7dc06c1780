/**
 * The coordinator's HTTP API as an OpenAPI 3.1 document, served at
 * `GET /openapi.json`. Request bodies come from the zod schemas the routes
 * parse with, answers from api-schemas.ts; both are converted by zod, so
 * the document cannot describe a body the routes would not take. The
 * operation table below says what zod cannot: paths, scopes, query
 * parameters and which error codes each route answers with.
 */
import { z } from 'zod'
import { configSchema } from '../config/schema.js'
import { type ErrorCode, httpStatus } from '../error-codes.js'
import { rewarmReportSchema } from '../protocol/messages.js'
import { packageVersion } from '../store/scripts.js'
import * as answers from './api-schemas.js'
import { type Answer, type Op, ops, requests } from './openapi-operations.js'

/** Answers (read as output); nested ones registered here become `$ref`s. */
const responses = {
  Problem: answers.problemSchema,
  Change: answers.changeSchema,
  Plan: answers.planSchema,
  DryRun: answers.dryRunSchema,
  Accepted: answers.acceptedSchema,
  GateRecord: answers.gateRecordSchema,
  Rollout: answers.rolloutSchema,
  RolloutList: answers.rolloutListSchema,
  HeartbeatAnswer: answers.heartbeatAnswerSchema,
  RewarmCheckpoint: rewarmReportSchema,
  Rewarms: answers.rewarmsSchema,
  RecallOutcome: answers.recallOutcomeSchema,
  LeaseGrant: answers.leaseGrantSchema,
  Fleet: answers.fleetSchema,
  Config: configSchema,
  ConfigVersion: answers.configVersionSchema,
  ConfigChanged: answers.configChangedSchema,
  ConfigDryRun: answers.configDryRunSchema,
  ConfigHistory: answers.configHistorySchema,
  MetricsAccepted: answers.metricsAcceptedSchema,
  Incident: answers.incidentSchema,
  WatchStatus: answers.watchStatusSchema,
  Incidents: answers.incidentsSchema,
  Health: answers.healthSchema,
  OpenApi: answers.openApiSchema,
  Readiness: answers.readinessSchema,
  ...Object.fromEntries(
    Object.entries(answers.streamEventSchemas).map(([event, s]) => [`Event_${event}`, s]),
  ),
}

const COMPONENTS = '#/components/schemas/'
const ref = (name: string) => ({ $ref: `${COMPONENTS}${name}` })

/** Each registry's schemas, with `$ref`s between them as components. */
const convert = (schemas: Record<string, z.ZodType>, io: 'input' | 'output') => {
  const registry = z.registry<{ id: string }>()
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id })
  const out = z.toJSONSchema(registry, {
    io,
    unrepresentable: 'any',
    uri: (id) => `${COMPONENTS}${id}`,
  }).schemas
  // A schema used twice but not registered would land in `__shared`, which no `$ref` here reaches.
  if ('__shared' in out) throw new Error('openapi: a reused schema needs a component name')
  // `$id` and `$schema` belong to a standalone JSON Schema, not to a component.
  return Object.fromEntries(
    Object.entries(out).map(([id, { $id: _id, $schema: _schema, ...schema }]) => [id, schema]),
  )
}

/** An operation's tag: the part of the API it belongs to. */
const tagOf = (path: string): string =>
  /^\/v1\/(changes|config)\b/.exec(path)?.[1] ??
  (/^\/v1\/(metrics|incidents)\b/.test(path)
    ? 'business'
    : path.startsWith('/v1/')
      ? 'clients'
      : 'ops')

/** Stream events, by name: what each means (docs/api.md, "The stream"). */
const EVENTS: Record<keyof typeof answers.streamEventSchemas, string> = {
  hello: 'first on every connection (again if the epoch changes under it): who speaks',
  change: 'a change for this client; `id:` is its log sequence number',
  config: 'on connect without a resume point: the config of completed config changes',
  reset: 'the resume point is not in the log: mark everything stale (softly)',
  goaway: 'unsigned; shutdown: come back after `retryAfterMs`',
  ping: 'every `stream.pingMs`: the line is alive',
}

const content = (a: Answer) => {
  if (a.media === 'text/event-stream')
    return {
      [a.media]: {
        schema: { type: 'string' },
        'x-slew-events': Object.fromEntries(
          Object.entries(EVENTS).map(([e, what]) => [
            e,
            { description: what, data: ref(`Event_${e}`) },
          ]),
        ),
      },
    }
  if (a.media) return { [a.media]: { schema: { type: 'string' } } }
  const names = typeof a.schema === 'string' ? [a.schema] : (a.schema ?? [])
  const schema = names.length === 1 ? ref(names[0]!) : { oneOf: names.map(ref) }
  return { 'application/json': { schema } }
}

const BODY_CODES: readonly ErrorCode[] = [
  'E_INVALID_OPTION',
  'E_BAD_JSON',
  'E_JSON_TOO_DEEP',
  'E_JSON_TOO_LARGE',
  'E_BODY_TOO_LARGE',
  'E_UNSUPPORTED_MEDIA_TYPE',
]

/** Every code a route may answer with: its own, auth's (or dev mode's guard), bodies', the store's. */
const codesOf = (op: Op): ErrorCode[] => [
  ...new Set<ErrorCode>([
    ...(op.errors ?? []),
    ...(op.scope ? (['E_UNAUTHORIZED', 'E_FORBIDDEN'] as const) : []),
    ...(op.method === 'get' ? [] : (['E_FORBIDDEN', ...BODY_CODES] as const)),
    ...(op.path.startsWith('/v1/') ? (['E_STORE_UNAVAILABLE', 'E_FENCED'] as const) : []),
    'E_INTERNAL',
  ]),
]

/** One problem+json answer per status, its `code` one of those the route answers it with. */
const problemAnswers = (codes: readonly ErrorCode[]) => {
  const byStatus = new Map<number, ErrorCode[]>()
  for (const code of codes)
    byStatus.set(httpStatus[code], [...(byStatus.get(httpStatus[code]) ?? []), code])
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      String(status),
      {
        description: list.join(', '),
        content: {
          'application/problem+json': {
            schema: {
              allOf: [ref('Problem'), { type: 'object', properties: { code: { enum: list } } }],
            },
          },
        },
      },
    ]),
  )
}

const operationOf = (op: Op) => ({
  operationId: `${op.method} ${op.path}`.replace(/[^\w]+(\w?)/g, (_, c: string) => c.toUpperCase()),
  tags: [tagOf(op.path)],
  summary: op.summary,
  ...(op.scope
    ? { security: [{ bearer: [op.scope] }], 'x-slew-scope': op.scope }
    : { security: [] }),
  ...(op.params && {
    parameters: op.params.map((p) => ({
      name: p.name,
      in: p.in,
      description: p.what,
      required: p.in === 'path' || p.required === true,
      schema: p.schema,
    })),
  }),
  ...(op.body && {
    requestBody: {
      required: false,
      content: {
        'application/json': { schema: ref(op.body.schema) },
        ...(op.body.ndjson && {
          'application/x-ndjson': {
            schema: { type: 'string' },
            description: `the change (${op.body.schema}, as JSON) on the first line, then one key a line (a JSON string or the bare text), joining \`target.keys\``,
          },
        }),
      },
    },
  }),
  responses: {
    ...Object.fromEntries(
      op.ok.map((a) => [String(a.status), { description: a.what, content: content(a) }]),
    ),
    ...problemAnswers(codesOf(op)),
  },
})

/** `/v1/changes/:id` as OpenAPI writes it: `/v1/changes/{id}`. */
export const openApiPath = (honoPath: string): string => honoPath.replace(/:(\w+)/g, '{$1}')

/** The config as the config routes show it (settings.ts `redact`): every secret as `***`. */
const redact = (config: object): void => {
  const SECRET = { const: '***', description: 'redacted' }
  for (const path of [
    'properties.auth.properties.tokens.items.properties',
    'properties.signing.properties.keys.additionalProperties.properties',
  ]) {
    const props = path
      .split('.')
      .reduce<unknown>((at, k) => (at as Record<string, unknown>)?.[k], config)
    if (!props || typeof props !== 'object' || !('secret' in props))
      throw new Error(`openapi: the config schema has no secret at ${path}`)
    Object.assign(props, { secret: SECRET })
  }
}

const build = () => {
  const schemas = { ...convert(requests, 'input'), ...convert(responses, 'output') }
  redact(schemas.Config!)
  const paths: Record<string, Record<string, unknown>> = {}
  for (const op of ops) {
    const path = openApiPath(op.path)
    paths[path] = { ...paths[path], [op.method]: operationOf(op) }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'slew coordinator',
      version: packageVersion(),
      description:
        'Paces fleet-wide changes (cache invalidations, rewarms, config) in waves under a budget. Errors are RFC 9457 problem+json with a stable `code`.',
    },
    tags: ['changes', 'config', 'clients', 'business', 'ops'].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A token of `auth.tokens`; each operation names the scope it needs (`x-slew-scope`; `admin` implies `push`, `read` and `metrics`). With no tokens configured, every request is allowed (loopback only).',
        },
      },
    },
  }
}

export type OpenApiDocument = ReturnType<typeof build>

let built: OpenApiDocument | undefined

/** The document, built on first use and kept for the life of the process. */
export const openApiDocument = (): OpenApiDocument => {
  built ??= build()
  return built
}

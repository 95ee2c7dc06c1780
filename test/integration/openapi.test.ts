/**
 * Issue 16 item 3: GET /openapi.json describes the API the coordinator
 * serves. The document is OpenAPI 3.1 whose every `$ref` resolves; it lists
 * exactly the routes the hono app registered, each with the scope auth
 * really asks for; and real answers of a running coordinator (success and
 * problem+json, of every route) validate against it with a JSON Schema
 * 2020-12 validator, as do the request bodies it accepted.
 */
import { readFileSync } from 'node:fs'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { openApiPath } from '../../src/coordinator/openapi.js'
import { recallSchema } from '../../src/coordinator/recall.js'
import { putSchema, rollbackSchema } from '../../src/coordinator/routes/config.js'
import { metricsBodySchema } from '../../src/coordinator/routes/metrics.js'
import { changeInputSchema } from '../../src/invalidation/change.js'
import { controlSchema, heartbeatSchema, leaseRequestSchema } from '../../src/protocol/messages.js'
import { createClient, devSigningKeys } from '../../src/sdk/index.js'
import {
  closeAfterAll,
  openStream,
  type RawStream,
  startCoordinator,
  waitFor,
} from '../helpers/coordinator.js'

const TOKENS = {
  push: 'openapi-push-token-0123456789',
  admin: 'openapi-admin-token-0123456789',
  read: 'openapi-read-token-0123456789',
  client: 'openapi-client-token-0123456789',
  metrics: 'openapi-metrics-token-0123456789',
} as const
type Role = keyof typeof TOKENS

interface Operation {
  operationId: string
  security: Record<string, string[]>[]
  'x-slew-scope'?: string
  parameters?: { name: string; in: string }[]
  requestBody?: { content: Record<string, { schema: object }> }
  responses: Record<string, { content?: Record<string, { schema: object }> }>
}
interface Doc {
  openapi: string
  info: { version: string }
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, object>; securitySchemes: Record<string, unknown> }
}

const closers = closeAfterAll()
let url: string
let app: { routes: { method: string; path: string }[] }
let doc: Doc
/** The document's paths, their `$ref`s pointing into the schema the validator holds. */
let movedPaths: Doc['paths']
let ajv: Ajv2020
/** `METHOD /path status` of every answer validated. */
const seen = new Set<string>()

beforeAll(async () => {
  const started = await startCoordinator({
    auth: {
      tokens: [
        { name: 'push-job', scopes: ['push', 'read'], secret: TOKENS.push },
        { name: 'ops', scopes: ['admin'], secret: TOKENS.admin },
        { name: 'dash', scopes: ['read'], secret: TOKENS.read },
        { name: 'apps', scopes: ['client'], secret: TOKENS.client },
        { name: 'orders', scopes: ['metrics'], secret: TOKENS.metrics },
      ],
    },
    watch: [{ metric: 'orders' }],
    waves: { steps: [1], bakeMs: 0 },
    confirmAbove: 0.5,
  })
  closers.push(() => started.co.close())
  url = started.url
  app = started.co.app
  const res = await fetch(`${url}/openapi.json`)
  expect(res.status).toBe(200)
  doc = (await res.json()) as Doc
  // The document's `#/components/schemas/X` become `api#/$defs/X` of one schema the validator holds.
  const text = JSON.stringify(doc).replaceAll('"#/components/schemas/', '"api#/$defs/')
  const moved = JSON.parse(text) as Doc
  ajv = new Ajv2020({
    strict: true,
    allErrors: true,
    formats: { 'date-time': (s: string) => /T/.test(s) && !Number.isNaN(Date.parse(s)) },
  })
  ajv.addSchema({ $id: 'api', $defs: moved.components.schemas })
  movedPaths = moved.paths
})

const validators = new Map<object, ValidateFunction>()
const validatorOf = (schema: object) => {
  let v = validators.get(schema)
  if (!v) {
    v = ajv.compile(schema)
    validators.set(schema, v)
  }
  return v
}

const expectValid = (schema: object, value: unknown, what: string) => {
  const v = validatorOf(schema)
  if (!v(value))
    expect.fail(
      `${what} does not validate: ${ajv.errorsText(v.errors)}\n${JSON.stringify(value).slice(0, 2000)}`,
    )
}

interface Call {
  role?: Role
  params?: Record<string, string>
  query?: string
  body?: unknown
  ndjson?: string
  headers?: Record<string, string>
}

/**
 * One request to the route `template` (hono's pattern), its answer held to
 * the document: the status documented for the operation, the content type
 * one of that answer's, a JSON body valid against its schema (and a JSON
 * request body the route accepted valid against the request's).
 */
const api = async (method: string, template: string, call: Call = {}) => {
  const op = movedPaths[openApiPath(template)]?.[method.toLowerCase()]
  if (!op) expect.fail(`${method} ${template} is not in the document`)
  let path = template
  for (const [k, v] of Object.entries(call.params ?? {}))
    path = path.replace(`:${k}`, encodeURIComponent(v))
  const headers: Record<string, string> = { ...call.headers }
  if (call.role) headers.authorization = `Bearer ${TOKENS[call.role]}`
  let body: string | undefined
  if (call.ndjson !== undefined) {
    headers['content-type'] = 'application/x-ndjson'
    body = call.ndjson
  } else if (method !== 'GET') {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(call.body ?? {})
  }
  const res = await fetch(`${url}${path}${call.query ?? ''}`, { method, headers, body })
  const name = `${method} ${template} ${res.status}`
  const answer = op.responses[String(res.status)]
  if (!answer) expect.fail(`${name} is not documented: ${await res.text()}`)
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim()
  const media = answer.content?.[type]
  if (!media) expect.fail(`${name}: content type ${type} is not documented`)
  let json: unknown
  if (type.endsWith('json')) {
    json = await res.json()
    expectValid(media.schema, json, name)
  } else if (type === 'text/event-stream') await res.body?.cancel()
  else await res.text()
  // A body the route took is one the document allows (NDJSON: its first line, the change).
  const sent = call.ndjson === undefined ? call.body : JSON.parse(call.ndjson.split('\n')[0]!)
  if (res.status < 300 && sent !== undefined) {
    const req = op.requestBody?.content['application/json']
    if (!req) expect.fail(`${name}: no JSON request body documented`)
    expectValid(req.schema, sent, `${name} request body`)
  }
  seen.add(`${method} ${template} ${res.status}`)
  // biome-ignore lint/suspicious/noExplicitAny: a validated answer, read by the tests
  return { status: res.status, body: json as Record<string, any> }
}

describe('GET /openapi.json', () => {
  it('is OpenAPI 3.1 whose every $ref resolves and every operation answers', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/)
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    expect(doc.info.version).toBe(pkg.version)
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' })
    const refs: string[] = []
    const walk = (x: unknown): void => {
      if (Array.isArray(x)) x.forEach(walk)
      else if (x && typeof x === 'object')
        for (const [k, v] of Object.entries(x)) k === '$ref' ? refs.push(v as string) : walk(v)
    }
    walk(doc)
    expect(refs.length).toBeGreaterThan(50)
    for (const r of refs) {
      expect(r, r).toMatch(/^#\//)
      const target = r
        .slice(2)
        .split('/')
        .reduce<unknown>(
          (at, seg) => (at as Record<string, unknown> | undefined)?.[seg.replace(/~1/g, '/')],
          doc,
        )
      expect(target, `${r} resolves`).toBeTypeOf('object')
    }
    const ids = new Set<string>()
    for (const [path, item] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(item)) {
        const name = `${method} ${path}`
        expect(Object.keys(op.responses).length, name).toBeGreaterThan(0)
        expect(ids.has(op.operationId), `${name}: operationId unique`).toBe(false)
        ids.add(op.operationId)
        for (const [, p] of path.matchAll(/\{(\w+)\}/g))
          expect(op.parameters, `${name}: {${p}} declared`).toContainEqual(
            expect.objectContaining({ name: p, in: 'path', required: true }),
          )
        const scope = op['x-slew-scope']
        expect(op.security, name).toEqual(scope ? [{ bearer: [scope] }] : [])
      }
  })

  it("takes request bodies from the routes' own zod schemas, and every schema compiles", () => {
    const routes = {
      ChangeInput: changeInputSchema,
      Control: controlSchema,
      ConfigPut: putSchema,
      ConfigRollback: rollbackSchema,
      Heartbeat: heartbeatSchema,
      Recall: recallSchema,
      LeaseRequest: leaseRequestSchema,
      MetricsPost: metricsBodySchema,
    }
    for (const [name, schema] of Object.entries(routes)) {
      const { $schema: _, ...own } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })
      expect(doc.components.schemas[name], name).toEqual(own)
    }
    // Strict: an unknown keyword, format or a type-less `properties` would throw here.
    for (const name of Object.keys(doc.components.schemas))
      expect(ajv.getSchema(`api#/$defs/${name}`), name).toBeTypeOf('function')
  })

  it('describes exactly the routes the app registers', () => {
    const registered = [
      ...new Set(
        app.routes
          .filter((r) => r.method !== 'ALL')
          .map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`),
      ),
    ].sort()
    const documented = Object.entries(doc.paths)
      .flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`))
      .sort()
    expect(documented).toEqual(registered)
  })

  it('names the scope auth asks for, and answers 401 without a token', async () => {
    for (const [path, item] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(item)) {
        const template = path.replace(/\{(\w+)\}/g, ':$1')
        const params = { id: 'app-0', changeId: 'c-1' }
        const scope = op['x-slew-scope']
        if (!scope) continue
        const anon = await api(method.toUpperCase(), template, { params })
        expect(anon.body.code, `${method} ${path}`).toBe('E_UNAUTHORIZED')
        // A token with one other scope (admin would imply it).
        const role: Role = scope === 'client' ? 'read' : 'client'
        const other = await api(method.toUpperCase(), template, { params, role })
        expect(other.body, `${method} ${path}`).toMatchObject({ code: 'E_FORBIDDEN', scope })
      }
  })
})

describe('real answers validate against the document', () => {
  let raw: RawStream
  const NONCE = 'openapi-nonce-1'
  afterAll(async () => {
    await raw?.close()
  })

  it('changes, controls, the stream and the clients routes', { timeout: 60_000 }, async () => {
    const fleet = ['app-0', 'app-1'].map((clientId) =>
      createClient<string>({
        url,
        clientId,
        token: TOKENS.client,
        signingKeys: devSigningKeys,
        load: async (k) => k,
      }),
    )
    for (const c of fleet) closers.push(() => c.close())
    await Promise.all(fleet.map((c) => c.start()))
    raw = await openStream(url, 'raw-1', {
      headers: { authorization: `Bearer ${TOKENS.client}` },
      query: `&nonce=${NONCE}`,
    })
    expect(raw.status).toBe(200)
    await waitFor('hello', () => raw.of('hello').length > 0)

    // Pushes: a dry run, one that needs confirming, accepted ones (JSON and NDJSON).
    const tags = { kind: 'invalidate', target: { tags: ['catalog'] } }
    expect(
      (await api('POST', '/v1/changes', { role: 'push', body: tags, query: '?dryRun=1' })).status,
    ).toBe(200)
    expect((await api('POST', '/v1/changes', { role: 'push', body: tags })).body.code).toBe(
      'E_CONFIRM_REQUIRED',
    )
    const sure = { confirm: true, reason: 'openapi test' }
    const inv = await api('POST', '/v1/changes', {
      role: 'push',
      body: { ...tags, ...sure, idempotencyKey: 'k-1' },
    })
    expect(inv.status).toBe(202)
    const conflict = await api('POST', '/v1/changes', {
      role: 'push',
      body: { ...tags, target: { tags: ['other'] }, ...sure, idempotencyKey: 'k-1' },
    })
    expect(conflict.body.code).toBe('E_IDEMPOTENCY_CONFLICT')
    const cfg = await api('POST', '/v1/changes', {
      role: 'push',
      body: { kind: 'config', values: { f: 1 }, ...sure },
    })
    const rewarm = await api('POST', '/v1/changes', {
      role: 'push',
      ndjson: [JSON.stringify({ kind: 'rewarm', ...sure }), '"k1"', '"k2"'].join('\n'),
    })
    expect(rewarm.status).toBe(202)
    const slow = await api('POST', '/v1/changes', {
      role: 'push',
      body: {
        kind: 'invalidate',
        target: { tags: ['slow'] },
        ...sure,
        waves: { steps: [0.5, 1], bakeMs: 600_000 },
        gate: { checks: [{ metric: 'errorRate', worse: 'higher', minEffect: 0.01 }] },
      },
    })
    expect(
      (await api('POST', '/v1/changes', { role: 'push', body: { kind: 'nope' } })).body.code,
    ).toBe('E_INVALID_OPTION')

    // The raw client gets them: the stream's events validate too.
    const reached = (id: string) =>
      raw.of('change').some((e) => JSON.parse(e.data).change.id === id)
    await waitFor('the three changes on the raw stream', () =>
      [inv, cfg, rewarm].every((r) => reached(r.body.id)),
    )
    await waitFor('the config change to complete', async () => {
      const r = await api('GET', '/v1/changes/:id', { role: 'read', params: { id: cfg.body.id } })
      return r.body.state === 'completed'
    })
    const sse = movedPaths['/v1/stream']!.get!.responses['200']!.content!['text/event-stream']!
    const events = (sse as { 'x-slew-events'?: Record<string, { data: object }> })['x-slew-events']!
    expect(raw.of('hello')).toHaveLength(1)
    for (const e of raw.events) {
      const event = events[e.event ?? 'message']
      if (!event) expect.fail(`event ${e.event} is not documented`)
      expectValid(event.data, JSON.parse(e.data), `event ${e.event}`)
    }
    const wrongFleet = await api('GET', '/v1/stream', {
      role: 'client',
      query: '?clientId=stray-1&fleet=elsewhere',
    })
    expect(wrongFleet.body.code).toBe('E_WRONG_FLEET')
    expect((await api('GET', '/v1/stream', { role: 'client', query: '?clientId=' })).status).toBe(
      400,
    )

    // Status, one rollout, controls and their refusals.
    const list = await api('GET', '/v1/changes', { role: 'read' })
    expect(list.body.changes.length).toBe(4)
    // The optional parts were there to check: a gate's record, a change's own gate, a rewarm's progress.
    expect(list.body.changes.every((r: { gate?: unknown }) => r.gate)).toBe(true)
    expect(list.body.changes[0]).toHaveProperty('ownGate')
    await api('GET', '/v1/changes', { role: 'read', query: '?state=completed' })
    const one = (id: string) => api('GET', '/v1/changes/:id', { role: 'read', params: { id } })
    expect((await one(rewarm.body.id)).body.rewarm).toMatchObject({ keysTotal: expect.any(Number) })
    expect((await one('nope')).status).toBe(404)
    const control = (action: string, id: string) =>
      api('POST', `/v1/changes/:id/${action}`, {
        role: 'admin',
        params: { id },
        body: { reason: `${action} in a test` },
      })
    await waitFor(
      'the slow one rolling',
      async () => (await one(slow.body.id)).body.state === 'rolling',
    )
    expect((await control('pause', slow.body.id)).body.state).toBe('paused')
    expect((await control('resume', slow.body.id)).body.state).toBe('rolling')
    expect((await control('abort', slow.body.id)).body.state).toBe('aborted')
    for (const action of ['pause', 'resume', 'abort'])
      expect((await control(action, slow.body.id)).body.code).toBe('E_ILLEGAL_TRANSITION')
    expect((await control('rollback', inv.body.id)).body.code).toBe('E_NOT_CONFIG_CHANGE')
    // A rollback answers with the rollout that undoes the change.
    expect((await control('rollback', cfg.body.id)).body.change.rollbackOf).toBe(cfg.body.id)
    expect((await control('pause', 'nope')).body.code).toBe('E_UNKNOWN_ROLLOUT')

    // The clients' routes: heartbeat with a checkpoint, the checkpoint back, resumes, recall, leases.
    const hb = await api('POST', '/v1/clients/:id/heartbeat', {
      role: 'client',
      params: { id: 'raw-1' },
      body: {
        ackedSeq: 1,
        entries: 10,
        capacity: 100,
        latencyP50: 2,
        latencyP99: 9,
        errorRate: 0,
        calls: 5,
        rejected: { 'bad-signature': 1 },
        configDigest: 'x',
        rewarm: { [rewarm.body.id]: { done: 1, total: 2, cursor: 1 } },
        metrics: { clicks: 3 },
        observed: { checkout: { n: 2, sum: 3, max: 2 } },
        intervalMs: 1000,
      },
    })
    expect(hb.body.ok).toBe(true)
    const hbBad = await api('POST', '/v1/clients/:id/heartbeat', {
      role: 'client',
      params: { id: 'raw-1' },
      body: { entries: -1 },
    })
    expect(hbBad.body.code).toBe('E_INVALID_OPTION')
    const params = { id: 'raw-1', changeId: rewarm.body.id }
    expect(
      (await api('GET', '/v1/clients/:id/rewarm/:changeId', { role: 'client', params })).body,
    ).toEqual({ done: 1, total: 2, cursor: 1 })
    const none = { id: 'raw-1', changeId: 'c-none' }
    expect(
      (await api('GET', '/v1/clients/:id/rewarm/:changeId', { role: 'client', params: none }))
        .status,
    ).toBe(404)
    const resumes = await api('GET', '/v1/clients/:id/rewarms', {
      role: 'client',
      params: { id: 'raw-1' },
      query: `?nonce=${NONCE}`,
    })
    expect(resumes.body.rewarms).toHaveLength(1)
    expect(resumes.body.rewarms[0].change).toBeDefined()
    expect(
      (await api('GET', '/v1/clients/:id/rewarms', { role: 'client', params: { id: 'raw-1' } }))
        .status,
    ).toBe(400)
    const recall = await api('POST', '/v1/clients/:id/recall', {
      role: 'client',
      params: { id: 'raw-1' },
      body: { epoch: 'before', configDigest: 'x', hard: [] },
    })
    expect(recall.body).toEqual({ adopted: false, recovered: [], refused: 0 })
    expect(
      (
        await api('POST', '/v1/clients/:id/recall', {
          role: 'client',
          params: { id: 'raw-1' },
          body: { epoch: 'before' },
        })
      ).status,
    ).toBe(400)
    expect(
      (
        await api('POST', '/v1/leases', {
          role: 'client',
          body: { clientId: 'raw-1', want: 3, class: 'invalidate' },
        })
      ).body.granted,
    ).toBeGreaterThan(0)
    expect(
      (await api('POST', '/v1/leases', { role: 'client', body: { clientId: 'raw-1', want: 0 } }))
        .status,
    ).toBe(400)
    const seenFleet = await api('GET', '/v1/fleet', { role: 'read' })
    expect(seenFleet.body.connected).toBe(3)
    expect(seenFleet.body.turnedAway).toEqual([
      expect.objectContaining({ clientId: 'stray-1', reason: 'wrong-fleet' }),
    ])
    // The stream's own answer (its events are checked above, off the raw stream).
    const stream = await api('GET', '/v1/stream', { role: 'client', query: '?clientId=raw-2' })
    expect(stream.status).toBe(200)
  })

  it('the config routes', async () => {
    const admin = { role: 'admin' as const }
    await api('GET', '/v1/config', admin)
    const budgets = { budgets: { invalidate: { ratePerSec: 600, burst: 600 } } }
    const dry = await api('PUT', '/v1/config', {
      ...admin,
      query: '?dryRun=1',
      body: { config: budgets, reason: 'more' },
    })
    expect(dry.body.dryRun).toBe(true)
    const put = await api('PUT', '/v1/config', {
      ...admin,
      body: { config: budgets, reason: 'more' },
    })
    expect(put.body.version).toBe(2)
    const fixed = await api('PUT', '/v1/config', {
      ...admin,
      body: { config: { fleet: 'other' }, reason: 'no' },
    })
    expect(fixed.body.code).toBe('E_CONFIG_NEEDS_RESTART')
    expect((await api('PUT', '/v1/config', { ...admin, body: { config: {} } })).status).toBe(400)
    expect((await api('GET', '/v1/config/history', admin)).body.versions).toHaveLength(2)
    const back = await api('POST', '/v1/config/rollback', { ...admin, body: { reason: 'undo' } })
    expect(back.body.version).toBe(3)
    const missing = await api('POST', '/v1/config/rollback', {
      ...admin,
      body: { version: 99, reason: 'x' },
    })
    expect(missing.body.code).toBe('E_NOT_FOUND')
  })

  it('the business watch: points in, an incident with its attribution out', async () => {
    expect(
      (
        await api('POST', '/v1/metrics', {
          role: 'metrics',
          body: { series: [{ name: 'nope', value: 1 }] },
        })
      ).body.code,
    ).toBe('E_INVALID_OPTION')
    // Fifteen minutes of orders at about 100/s, the last 30 s at half that.
    const second = Math.floor(Date.now() / 1000) * 1000
    const series = Array.from({ length: 930 }, (_, i) => ({
      name: 'orders',
      value: (i < 900 ? 100 : 50) + ((i * 7919) % 21) - 10,
      at: new Date(second - (960 - i) * 1000).toISOString(),
    }))
    // In one request: between two, the watch could judge the seconds the second one brings.
    const posted = await api('POST', '/v1/metrics', { role: 'metrics', body: { series } })
    expect(posted.body).toEqual({ accepted: 930 })
    let incidents: { incidents: { attribution?: unknown }[] } = { incidents: [] }
    await waitFor('an incident', async () => {
      incidents = (await api('GET', '/v1/incidents', { role: 'read' })).body as typeof incidents
      return incidents.incidents.length > 0
    })
    expect(incidents.incidents[0]?.attribution).toMatchObject({ summary: expect.any(String) })
  })

  it('the operators routes', async () => {
    expect((await api('GET', '/healthz')).body).toEqual({ ok: true })
    expect((await api('GET', '/readyz')).body).toMatchObject({ ready: true, store: 'memory' })
    await api('GET', '/metrics')
    await api('GET', '/')
    await api('GET', '/dashboard/app.js')
    await api('GET', '/dashboard/style.css')
    expect((await api('GET', '/openapi.json')).body.openapi).toBe(doc.openapi)
  })

  it('covered every operation: a success, and a problem where it can answer one', () => {
    for (const [path, item] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(item)) {
        const name = `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`
        const statuses = [...seen]
          .filter((s) => s.startsWith(`${name} `))
          .map((s) => s.split(' ')[2]!)
        expect(
          statuses.some((s) => s.startsWith('2')),
          `${name}: a success`,
        ).toBe(true)
        if (op['x-slew-scope'])
          expect(
            statuses.filter((s) => Number(s) >= 400).length,
            `${name}: its problems`,
          ).toBeGreaterThan(1)
      }
  })
})

/**
 * Bad requests get the right 4xx problem+json with a stable code, and the
 * coordinator's state does not change: everything a request could change
 * (budget buckets, the fleet's heartbeats, the registry, rollouts, config,
 * the rewarm ledger, the log's sequence, admission) is compared, and a
 * control shows that successful requests do change what is compared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CoordinatorState } from '../../src/coordinator/inspect.js'
import { post, startCoordinator, waitFor } from '../helpers/coordinator.js'

const PUSH = 'push-token-0123456789abcdef'
const ADMIN = 'admin-token-0123456789abcdef'
const READ = 'read-token-0123456789abcdef'
const CLIENT = 'client-token-0123456789abcdef'

let url = ''
let stop: () => Promise<void> = async () => {}
let snapshot: () => Promise<CoordinatorState> = async () => {
  throw new Error('not started')
}

/** The one rollout's id, written `ROLLOUT` in the paths below. */
let rolloutId = ''
let coordinator: Awaited<ReturnType<typeof startCoordinator>>['co'] | undefined
beforeAll(async () => {
  const { co, url: u } = await startCoordinator({
    limits: { bodyBytes: 4096 },
    auth: {
      tokens: [
        { name: 'push-job', scopes: ['push', 'read'], secret: PUSH },
        { name: 'ops', scopes: ['admin'], secret: ADMIN },
        { name: 'dash', scopes: ['read'], secret: READ },
        { name: 'apps', scopes: ['client'], secret: CLIENT },
      ],
    },
  })
  url = u
  coordinator = co
  stop = () => co.close()
  // One rollout to control, and a client to lease for.
  co.engine.join('app-1', { entries: 10 })
  rolloutId = co.engine.submit({ kind: 'invalidate', target: { keys: ['x'] } }).rollout.id
  snapshot = () => co.inspect()
})
afterAll(() => stop())

const bearer = (t: string) => ({ authorization: `Bearer ${t}` })
const json = { 'content-type': 'application/json' }

type Case = [
  name: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | undefined,
  status: number,
  code: string,
]

const cases: Case[] = [
  [
    'bad JSON',
    'POST',
    '/v1/changes',
    { ...bearer(PUSH), ...json },
    '{"kind": "invalidate",',
    400,
    'E_BAD_JSON',
  ],
  [
    'not JSON at all',
    'POST',
    '/v1/changes',
    { ...bearer(PUSH), 'content-type': 'text/plain' },
    'invalidate everything',
    415,
    'E_UNSUPPORTED_MEDIA_TYPE',
  ],
  [
    'wrong type for kind',
    'POST',
    '/v1/changes',
    { ...bearer(PUSH), ...json },
    JSON.stringify({ kind: 7, target: { all: true } }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'wrong type for keys',
    'POST',
    '/v1/changes',
    { ...bearer(PUSH), ...json },
    JSON.stringify({ kind: 'invalidate', target: { keys: 'sku:1' } }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'unknown field',
    'POST',
    '/v1/changes',
    { ...bearer(PUSH), ...json },
    JSON.stringify({ kind: 'invalidate', target: { keys: ['a'] }, urgentPlease: true }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'empty target',
    'POST',
    '/v1/changes',
    { ...bearer(PUSH), ...json },
    JSON.stringify({ kind: 'invalidate', target: {} }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'negative bake',
    'POST',
    '/v1/changes',
    { ...bearer(PUSH), ...json },
    JSON.stringify({ kind: 'invalidate', target: { keys: ['a'] }, waves: { bakeMs: -5 } }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'steps not ending at 1',
    'POST',
    '/v1/changes',
    { ...bearer(PUSH), ...json },
    JSON.stringify({ kind: 'invalidate', target: { keys: ['a'] }, waves: { steps: [0.1, 0.5] } }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'huge body',
    'POST',
    '/v1/changes',
    { ...bearer(PUSH), ...json },
    JSON.stringify({
      kind: 'invalidate',
      target: { keys: Array.from({ length: 2000 }, (_, i) => `key-${i}`) },
    }),
    413,
    'E_BODY_TOO_LARGE',
  ],
  [
    'fleet-wide without confirm',
    'POST',
    '/v1/changes',
    { ...bearer(PUSH), ...json },
    JSON.stringify({ kind: 'invalidate', target: { all: true }, reason: 'oops' }),
    422,
    'E_CONFIRM_REQUIRED',
  ],
  [
    'confirm without a reason',
    'POST',
    '/v1/changes',
    { ...bearer(PUSH), ...json },
    JSON.stringify({ kind: 'invalidate', target: { all: true }, confirm: true }),
    422,
    'E_CONFIRM_REQUIRED',
  ],
  [
    'missing token',
    'POST',
    '/v1/changes',
    json,
    JSON.stringify({ kind: 'invalidate', target: { keys: ['a'] } }),
    401,
    'E_UNAUTHORIZED',
  ],
  [
    'unknown token',
    'POST',
    '/v1/changes',
    { ...bearer('guess-guess-guess-guess'), ...json },
    JSON.stringify({ kind: 'invalidate', target: { keys: ['a'] } }),
    401,
    'E_UNAUTHORIZED',
  ],
  [
    'wrong scope: read pushes',
    'POST',
    '/v1/changes',
    { ...bearer(READ), ...json },
    JSON.stringify({ kind: 'invalidate', target: { keys: ['a'] } }),
    403,
    'E_FORBIDDEN',
  ],
  [
    'wrong scope: push aborts',
    'POST',
    '/v1/changes/ROLLOUT/abort',
    { ...bearer(PUSH), ...json },
    '{}',
    403,
    'E_FORBIDDEN',
  ],
  [
    'wrong scope: client reads config',
    'GET',
    '/v1/config',
    bearer(CLIENT),
    undefined,
    403,
    'E_FORBIDDEN',
  ],
  [
    'unknown rollout',
    'POST',
    '/v1/changes/chg-404/pause',
    { ...bearer(ADMIN), ...json },
    '{}',
    404,
    'E_UNKNOWN_ROLLOUT',
  ],
  [
    'illegal transition',
    'POST',
    '/v1/changes/ROLLOUT/resume',
    { ...bearer(ADMIN), ...json },
    '{}',
    409,
    'E_ILLEGAL_TRANSITION',
  ],
  [
    'rollback of an invalidation',
    'POST',
    '/v1/changes/ROLLOUT/rollback',
    { ...bearer(ADMIN), ...json },
    '{}',
    409,
    'E_NOT_CONFIG_CHANGE',
  ],
  [
    'negative lease',
    'POST',
    '/v1/leases',
    { ...bearer(CLIENT), ...json },
    JSON.stringify({ clientId: 'app-1', want: -3 }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'lease of an unknown class',
    'POST',
    '/v1/leases',
    { ...bearer(CLIENT), ...json },
    JSON.stringify({ clientId: 'app-1', want: 3, class: 'config' }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'heartbeat with a negative count',
    'POST',
    '/v1/clients/app-1/heartbeat',
    { ...bearer(CLIENT), ...json },
    JSON.stringify({ entries: -1 }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'heartbeat error rate over 1',
    'POST',
    '/v1/clients/app-1/heartbeat',
    { ...bearer(CLIENT), ...json },
    JSON.stringify({ errorRate: 3 }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'heartbeat rewarm report with done over a negative',
    'POST',
    '/v1/clients/app-1/heartbeat',
    { ...bearer(CLIENT), ...json },
    JSON.stringify({ rewarm: { 'chg-1': { done: -1, total: 5 } } }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'heartbeat with more calls than a weighted sum can hold',
    'POST',
    '/v1/clients/app-1/heartbeat',
    { ...bearer(CLIENT), ...json },
    JSON.stringify({ calls: 2 ** 53 - 1, latencyP99: 10 }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'heartbeat latency over an hour',
    'POST',
    '/v1/clients/app-1/heartbeat',
    { ...bearer(CLIENT), ...json },
    JSON.stringify({ calls: 10, latencyP99: 1e308 }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'heartbeat rewarm report with more keys settled than it has',
    'POST',
    '/v1/clients/app-1/heartbeat',
    { ...bearer(CLIENT), ...json },
    JSON.stringify({ rewarm: { 'chg-1': { done: 4, failed: 2, total: 5 } } }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'heartbeat rewarm report with its cursor past its keys',
    'POST',
    '/v1/clients/app-1/heartbeat',
    { ...bearer(CLIENT), ...json },
    JSON.stringify({ rewarm: { 'chg-1': { done: 5, total: 5, cursor: 6 } } }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'heartbeat rewarm report naming an index outside its keys',
    'POST',
    '/v1/clients/app-1/heartbeat',
    { ...bearer(CLIENT), ...json },
    JSON.stringify({ rewarm: { 'chg-1': { done: 2, total: 5, cursor: 1, ahead: [5] } } }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'heartbeat rewarm report whose cursor claims keys it does not count',
    'POST',
    '/v1/clients/app-1/heartbeat',
    { ...bearer(CLIENT), ...json },
    JSON.stringify({ rewarm: { 'chg-1': { done: 0, total: 1000, cursor: 200 } } }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'rewarm checkpoints without a nonce',
    'GET',
    '/v1/clients/app-1/rewarms',
    bearer(CLIENT),
    undefined,
    400,
    'E_INVALID_OPTION',
  ],
  [
    'heartbeat with reports for more than 100 rewarms',
    'POST',
    '/v1/clients/app-1/heartbeat',
    { ...bearer(CLIENT), ...json },
    JSON.stringify({
      rewarm: Object.fromEntries(
        Array.from({ length: 101 }, (_, i) => [`chg-${i}`, { done: 0, total: 1 }]),
      ),
    }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'rewarm checkpoint with a bad client id',
    'GET',
    `/v1/clients/${'x'.repeat(300)}/rewarm/chg-1`,
    bearer(CLIENT),
    undefined,
    400,
    'E_INVALID_OPTION',
  ],
  [
    'rewarm checkpoint with an over-long change id',
    'GET',
    `/v1/clients/app-1/rewarm/${'c'.repeat(201)}`,
    bearer(CLIENT),
    undefined,
    400,
    'E_INVALID_OPTION',
  ],
  [
    'stream without clientId',
    'GET',
    '/v1/stream',
    bearer(CLIENT),
    undefined,
    400,
    'E_INVALID_OPTION',
  ],
  [
    'stream with a bad Last-Event-ID',
    'GET',
    '/v1/stream?clientId=app-9',
    { ...bearer(CLIENT), 'last-event-id': 'yesterday' },
    undefined,
    400,
    'E_INVALID_OPTION',
  ],
  [
    'config change of a fixed field',
    'PUT',
    '/v1/config',
    { ...bearer(ADMIN), ...json },
    JSON.stringify({ config: { listen: { port: 1 } }, reason: 'move' }),
    409,
    'E_CONFIG_NEEDS_RESTART',
  ],
  [
    'config change without a reason',
    'PUT',
    '/v1/config',
    { ...bearer(ADMIN), ...json },
    JSON.stringify({ config: { confirmAbove: 0.9 } }),
    400,
    'E_INVALID_OPTION',
  ],
  [
    'config with a bad budget',
    'PUT',
    '/v1/config',
    { ...bearer(ADMIN), ...json },
    JSON.stringify({
      config: { budgets: { invalidate: { ratePerSec: 0, burst: 1 } } },
      reason: 'x',
    }),
    400,
    'E_INVALID_OPTION',
  ],
  ['no such route', 'GET', '/v2/everything', {}, undefined, 404, 'E_NOT_FOUND'],
  // Issue 12, item 9: each of these opened a stream before.
  ...['1e3', '0x10', '0b11', '1.0', '+5'].map(
    (id): Case => [
      `stream with Last-Event-ID ${JSON.stringify(id)}`,
      'GET',
      '/v1/stream?clientId=app-9',
      { ...bearer(CLIENT), 'last-event-id': id },
      undefined,
      400,
      'E_INVALID_OPTION',
    ],
  ),
  [
    'stream with since=1e3',
    'GET',
    '/v1/stream?clientId=app-9&since=1e3',
    bearer(CLIENT),
    undefined,
    400,
    'E_INVALID_OPTION',
  ],
  // Issue 12, item 9: each of these was taken before (200).
  ...(
    [
      ['the smallest rate there is', { budgets: { invalidate: { ratePerSec: 5e-324, burst: 1 } } }],
      ['a rate under 0.001/s', { budgets: { rewarm: { ratePerSec: 0.0009, burst: 1 } } }],
      ['a rate over 1e9/s', { budgets: { urgent: { ratePerSec: 1e10, burst: 1 } } }],
      ['a burst over 1e9', { budgets: { config: { ratePerSec: 1, burst: 1e300 } } }],
      ['an admission rate of 5e-324', { admission: { ratePerSec: 5e-324, burst: 1 } }],
      ['a bake over a day', { waves: { steps: [1], bakeMs: 86_400_001 } }],
      ['a lease TTL over a minute', { leases: { ttlMs: 60_001, maxBatch: 1 } }],
      ['a lease batch over a million', { leases: { ttlMs: 250, maxBatch: 1e7 } }],
      ['defaultEntries over 1e9', { defaultEntries: 1e10 }],
      ['retainFinished over a million', { retainFinished: 1e7 }],
      ['a checkpoint TTL over 30 days', { rewarm: { checkpointTtlMs: 1e300 } }],
      ['a rewarm interval under 10 ms', { rewarm: { intervalMs: 1e-300 } }],
      ['a rewarm target latency over an hour', { rewarm: { targetLatencyMs: 1e300 } }],
      ['more rewarm keys than 10 million', { rewarm: { maxKeys: 1e8 } }],
    ] as const
  ).map(
    ([what, config]): Case => [
      `config with ${what}`,
      'PUT',
      '/v1/config',
      { ...bearer(ADMIN), ...json },
      JSON.stringify({ config, reason: 'x' }),
      400,
      'E_INVALID_OPTION',
    ],
  ),
]

describe('bad requests', () => {
  it(`has at least 15 cases (${cases.length})`, () =>
    expect(cases.length).toBeGreaterThanOrEqual(15))

  it.each(cases)(
    '%s → %s %s answers %i problem+json',
    async (_name, method, path, headers, body, status, code) => {
      const before = await snapshot()
      const res = await fetch(`${url}${path.replace('ROLLOUT', rolloutId)}`, {
        method,
        headers,
        ...(body !== undefined && { body }),
      })
      expect(res.status).toBe(status)
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
      const p = (await res.json()) as { code: string; status: number; title: string }
      expect(p.code).toBe(code)
      expect(p.status).toBe(status)
      expect(p.title.length).toBeGreaterThan(0)
      expect(await snapshot()).toEqual(before)
    },
  )
})

describe('the state check is not blind', () => {
  it('sees a successful lease: the invalidate token bucket moves', async () => {
    const before = await snapshot()
    const res = await post(`${url}/v1/leases`, { clientId: 'app-1', want: 1 }, bearer(CLIENT))
    expect(res.status).toBe(200)
    expect(((await res.json()) as { granted: number }).granted).toBe(1)
    const after = await snapshot()
    expect(after).not.toEqual(before)
    expect(after.engine?.buckets.invalidate?.tokens).not.toEqual(
      before.engine?.buckets.invalidate?.tokens,
    )
    // Only the bucket moved: with it put back, the rest is as it was.
    expect({ ...after, engine: { ...after.engine, buckets: before.engine?.buckets } }).toEqual(
      before,
    )
  })

  it('sees a successful heartbeat: the fleet tracker and the registry move', async () => {
    const before = await snapshot()
    const res = await post(
      `${url}/v1/clients/app-1/heartbeat`,
      { entries: 42, calls: 3, latencyP50: 5, latencyP99: 9, errorRate: 0 },
      bearer(CLIENT),
    )
    expect(res.status).toBe(200)
    const after = await snapshot()
    expect(after).not.toEqual(before)
    expect(after.fleet.beats).toBe(before.fleet.beats + 1)
    expect(after.fleet.health['app-1']).toMatchObject({ entries: 42, latencyP99: 9 })
    expect(after.engine?.clients.find(([id]) => id === 'app-1')?.[1]).toBe(42)
  })

  it('sees a heartbeat from a client it has never seen (counted beats)', async () => {
    const before = await snapshot()
    const res = await post(`${url}/v1/clients/app-new/heartbeat`, {}, bearer(CLIENT))
    expect(res.status).toBe(200)
    expect(await snapshot()).not.toEqual(before)
  })

  it('sees a rewarm checkpoint written to the ledger', async () => {
    // Only a rewarm the client was sent keeps a checkpoint (issue 12): send one.
    const engine = coordinator!.engine
    const id = engine.submit({ kind: 'rewarm', target: { keys: ['y'] } }).rollout.id
    await waitFor('the rewarm to reach app-1', () => engine.sentRewarm(id, 'app-1', 60_000))
    const before = await snapshot()
    const res = await post(
      `${url}/v1/clients/app-1/heartbeat`,
      { rewarm: { [id]: { done: 1, total: 5 } } },
      bearer(CLIENT),
    )
    expect(res.status).toBe(200)
    const after = await snapshot()
    expect(after.rewarm.ledgerWrites).toBe(before.rewarm.ledgerWrites + 1)
  })

  it('sees a config change', async () => {
    const before = await snapshot()
    const put = await fetch(`${url}/v1/config`, {
      method: 'PUT',
      headers: { ...bearer(ADMIN), ...json },
      body: JSON.stringify({ config: { confirmAbove: 0.9 }, reason: 'control' }),
    })
    expect(put.status).toBe(200)
    const after = await snapshot()
    expect(after.config).not.toEqual(before.config)
    expect(after.config.current.confirmAbove).toBe(0.9)
    expect(after.config.versions).toHaveLength(before.config.versions.length + 1)
  })
})

describe('refusal counts in a heartbeat', () => {
  it('count at most 1,000,000 per reason per heartbeat: 2^53 cannot make the counter meaningless', async () => {
    const series = async () =>
      Number(
        /slew_client_rejected_messages_total\{reason="wrong-epoch"\} (\d+)/.exec(
          await (await fetch(`${url}/metrics`)).text(),
        )?.[1] ?? 0,
      )
    const before = await series()
    const res = await post(
      `${url}/v1/clients/app-1/heartbeat`,
      { rejected: { 'wrong-epoch': 2 ** 53 - 1 } },
      bearer(CLIENT),
    )
    expect(res.status).toBe(200)
    expect((await series()) - before).toBe(1_000_000)
  })

  it('drops reasons this version does not know (a newer SDK), and counts the rest', async () => {
    const res = await post(
      `${url}/v1/clients/app-1/heartbeat`,
      { rejected: { unsigned: 2, 'from-the-future': 3 } },
      bearer(CLIENT),
    )
    expect(res.status).toBe(200)
    const text = await (await fetch(`${url}/metrics`)).text()
    expect(text).toMatch(/slew_client_rejected_messages_total\{reason="unsigned"\} 2/)
    expect(text).not.toContain('from-the-future')
  })
})

/**
 * What the fuzz (fuzz.test.ts) found, one case each, kept as plain
 * examples: each failed before its fix. Raw HTTP (node:http), so a HEAD or
 * a GET can carry what fetch would not send.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Coordinator } from '../../src/coordinator/coordinator.js'
import { DEV_KID, DEV_SIGNING_KEY } from '../../src/protocol/dev-key.js'
import { signMessage } from '../../src/protocol/sign.js'
import { closeAfterAll, openStream, startCoordinator } from '../helpers/coordinator.js'
import { send } from '../helpers/fuzz/http.js'
import { watchCrashes } from '../helpers/fuzz/probe.js'

const CLIENT = 'client-token-0123456789abcdef'
const ADMIN = 'admin-token-0123456789abcdef'
const bearer = (t: string) => ({ authorization: `Bearer ${t}` })

const closers = closeAfterAll()
const crashes = watchCrashes()
afterAll(() => crashes.stop())

let co: Coordinator
let url = ''
let port = 0
beforeAll(async () => {
  const started = await startCoordinator({
    auth: {
      tokens: [
        { name: 'apps', scopes: ['client'], secret: CLIENT },
        { name: 'ops', scopes: ['admin'], secret: ADMIN },
      ],
    },
  })
  co = started.co
  url = started.url
  port = Number(new URL(url).port)
  closers.push(() => co.close())
})

const settle = () => new Promise((r) => setTimeout(r, 200))

describe('HEAD /v1/stream', () => {
  it('answers the headers a GET gets, and opens, admits and joins nothing', async () => {
    const before = await co.inspect()
    const res = await send(port, {
      method: 'HEAD',
      path: '/v1/stream?clientId=head-1',
      headers: bearer(CLIENT),
      framing: 'length',
    })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
    await settle()
    // Before: admitted and joined, and the response written twice (a logged ERR_HTTP_HEADERS_SENT).
    expect(crashes.seen.splice(0)).toEqual([])
    expect(await co.inspect()).toEqual(before)
  })

  it('refuses what a GET refuses', async () => {
    const res = await send(port, {
      method: 'HEAD',
      path: '/v1/stream',
      headers: bearer(CLIENT),
      framing: 'length',
    })
    expect(res.status).toBe(400)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  })

  it('leaves GET as it was: a stream opens', async () => {
    const s = await openStream(url, 'head-2', { headers: bearer(CLIENT) })
    closers.push(() => s.close())
    expect(s.status).toBe(200)
  })
})

describe('a body on GET /v1/stream', () => {
  for (const framing of ['length', 'chunked'] as const) {
    it(`is refused (413), by ${framing}: no stream opens, none is left behind`, async () => {
      const before = await co.inspect()
      const res = await send(port, {
        method: 'GET',
        path: '/v1/stream?clientId=body-1',
        headers: bearer(CLIENT),
        // Past what a socket buffers: before, the stream stayed open after its client left.
        body: Buffer.alloc(5 * 1024 * 1024, 'x'),
        framing,
      })
      expect(res.status).toBe(413)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(JSON.parse(res.body)).toMatchObject({ code: 'E_BODY_TOO_LARGE', limitBytes: 0 })
      await settle()
      expect(await co.inspect()).toEqual(before)
    })
  }

  it('is not a Content-Length of 0', async () => {
    const res = await send(port, {
      method: 'GET',
      path: '/v1/stream?clientId=body-2',
      headers: bearer(CLIENT),
      body: Buffer.alloc(0),
      framing: 'length',
    })
    expect(res.status).toBe(200)
    await settle()
    expect((await co.inspect()).streams).not.toContain('body-2')
  })
})

describe('POST /v1/clients/:id/recall with signed messages of any shape', () => {
  // The dev key is public: anyone can sign anything with it (a fleet's own key signs only
  // what its coordinator sent, but a proof is read as data all the same).
  const sign = (payload: object) => signMessage(payload, DEV_KID, DEV_SIGNING_KEY)
  const old = { v: 1, fleet: 'default', epoch: 'oldepoch1', seq: 1 }
  const hard = (change: Record<string, unknown>) =>
    sign({
      ...old,
      type: 'change',
      change: { seq: 1, kind: 'invalidate', mode: 'hard', priority: 'normal', ...change },
    })
  let n = 0
  const recall = async (body: object) => {
    const before = await co.inspect()
    const res = await send(port, {
      method: 'POST',
      path: `/v1/clients/recall-${n++}/recall`,
      headers: { ...bearer(CLIENT), 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ epoch: 'oldepoch1', configDigest: '', ...body })),
      framing: 'length',
    })
    return { res, before, answer: JSON.parse(res.body) as Record<string, unknown> }
  }

  it.each([
    ['a change message without its change', { hard: [sign({ ...old, type: 'change' })] }],
    [
      'a change message whose change is null',
      { hard: [sign({ ...old, type: 'change', change: null })] },
    ],
    ['a config snapshot without values', { config: [sign({ ...old, type: 'config' })] }],
    [
      'a config change without its change',
      { config: [sign({ ...old, type: 'config', values: {} }), sign({ ...old, type: 'change' })] },
    ],
    [
      'a config change whose unset is not a list',
      {
        config: [
          sign({ ...old, type: 'config', values: {} }),
          sign({ ...old, type: 'change', change: { id: 'c', kind: 'config', unset: 5 } }),
        ],
      },
    ],
    [
      'a hard invalidation whose id is an object',
      { hard: [hard({ id: { a: 1 }, target: { keys: ['a'] } })] },
    ],
  ])('refuses %s (counted), not a 500, and changes nothing', async (_what, body) => {
    const { res, before, answer } = await recall(body)
    expect(res.status).toBe(200)
    expect(answer).toEqual({ adopted: false, recovered: [], refused: 1 })
    expect(await co.inspect()).toEqual(before)
  })

  it('recovers the good hard invalidations and refuses a bad one, not a 400 after the first', async () => {
    const { res, answer } = await recall({
      hard: [
        hard({ id: 'chg-old-1', target: { keys: ['a'] } }),
        hard({ id: 'chg-old-2', target: 5 }),
      ],
    })
    expect(res.status).toBe(200)
    expect(answer).toEqual({ adopted: false, recovered: ['chg-old-1'], refused: 1 })
    expect(co.engine.get('chg-old-1').change.mode).toBe('hard')
  })
})

describe('POST /v1/changes as NDJSON whose change has a target of another shape', () => {
  it.each([
    ['target.keys', '{"kind":"rewarm","target":{"keys":5}}'],
    ['target.keys', '{"kind":"rewarm","target":{"keys":{"0":"a"}}}'],
    ['target', '{"kind":"rewarm","target":null}'],
    ['target', '{"kind":"rewarm","target":"abc"}'],
    ['target', '{"kind":"rewarm","target":["a","b"]}'],
  ])('is refused as JSON would be: 400 naming %s (%s)', async (field, head) => {
    const before = await co.inspect()
    const res = await send(port, {
      method: 'POST',
      path: '/v1/changes',
      headers: { ...bearer(ADMIN), 'content-type': 'application/x-ndjson' },
      body: Buffer.from([head, '"k1"', '"k2"'].join('\n')),
      framing: 'length',
    })
    // Before: a list of another shape was dropped for the key lines (202), a string or an
    // array target spread into an object ("target.0").
    expect(res.status).toBe(400)
    expect(JSON.parse(res.body)).toMatchObject({ code: 'E_INVALID_OPTION', field })
    expect(await co.inspect()).toEqual(before)
  })

  it('still joins the key lines to a target.keys list', async () => {
    const res = await send(port, {
      method: 'POST',
      path: '/v1/changes?dryRun=1',
      headers: { ...bearer(ADMIN), 'content-type': 'application/x-ndjson' },
      body: Buffer.from(['{"kind":"rewarm","target":{"keys":["k0"]}}', '"k1"', 'k2'].join('\n')),
      framing: 'length',
    })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toMatchObject({ dryRun: true, confirmRequired: false })
  })
})

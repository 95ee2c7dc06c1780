/**
 * What the fuzz (fuzz.test.ts) found, one case each, kept as plain
 * examples: each failed before its fix. Raw HTTP (node:http), so a HEAD or
 * a GET can carry what fetch would not send.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Coordinator } from '../../src/coordinator/coordinator.js'
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

/**
 * The SDK's reconnect policy against real (misbehaving) servers: a stream
 * that goes silent counts as lost; a refusal's retry delay is obeyed; the
 * backoff is full-jitter exponential, capped, and resets after a long
 * connection.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { helloFrame, type Signer, signFor, sseFrame } from '../../src/coordinator/log.js'
import { DEV_KID } from '../../src/protocol/dev-key.js'
import { Backoff } from '../../src/sdk/backoff.js'
import { createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { waitFor } from '../helpers/coordinator.js'

let server: Server | undefined
let client: SlewClient<string> | undefined
afterEach(async () => {
  await client?.close()
  server?.closeAllConnections()
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
  server = undefined
  client = undefined
})

/** Signs as a coordinator on the dev key would: the hello a stream opens with. */
const signer: Signer = { fleet: 'default', epoch: 'test0epoch', kid: DEV_KID, keys: devSigningKeys }

/**
 * A server of `/v1/stream` only. `open()` answers 200 and says the signed
 * hello (with the client's nonce) and, to a new client, the config, as a
 * coordinator would.
 */
const listen = async (handler: (res: ServerResponse, n: number, open: () => void) => void) => {
  let n = 0
  const times: number[] = []
  server = createServer((req, res) => {
    if (!req.url?.startsWith('/v1/stream')) {
      res.writeHead(404).end()
      return
    }
    times.push(Date.now())
    const q = new URL(req.url, 'http://x').searchParams
    const open = () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders()
      res.write(
        helloFrame(signer, {
          seq: 0,
          clientId: q.get('clientId') ?? '',
          nonce: q.get('nonce') ?? undefined,
        }),
      )
      // A client with no resume point is sent the fleet's config next (start() waits for it).
      if (!req.headers['last-event-id'])
        res.write(sseFrame('config', signFor(signer, { type: 'config', seq: 1, values: {} }), 1))
    }
    handler(res, n++, open)
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, times }
}

describe('SDK reconnect policy', () => {
  it('treats a silent stream as lost and reconnects', { timeout: 20_000 }, async () => {
    const { url, times } = await listen((_res, _n, open) => open())
    const c = createClient({
      url,
      clientId: 'quiet',
      signingKeys: devSigningKeys,
      load: async (k: string) => k,
      reconnect: { silenceMs: 300, baseMs: 10, capMs: 20 },
    })
    client = c
    const reasons: string[] = []
    c.on('disconnected', (d) => reasons.push(d.reason))
    await c.start()
    await waitFor('two reconnects', () => times.length >= 3, 10_000)
    expect(reasons[0]).toBe('no data for 300 ms')
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(300)
  })

  it('obeys a goaway: comes back after the delay the server names', {
    timeout: 20_000,
  }, async () => {
    const { url, times } = await listen((res, n, open) => {
      open()
      if (n === 0) {
        const goaway = { type: 'goaway', retryAfterMs: 900, reason: 'draining' }
        res.end(`event: goaway\ndata: ${JSON.stringify(goaway)}\n\n`)
      }
    })
    const c = createClient({
      url,
      clientId: 'drained',
      signingKeys: devSigningKeys,
      load: async (k: string) => k,
      reconnect: { baseMs: 1, capMs: 5 },
    })
    client = c
    const told: number[] = []
    c.on('disconnected', (d) => told.push(d.retryInMs))
    await c.start()
    await waitFor('the reconnect', () => times.length >= 2, 10_000)
    // The named 900 ms, not the 1-5 ms backoff.
    expect(told[0]).toBe(900)
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(900)
  })

  it('close() ends the stream without reporting a disconnect', { timeout: 20_000 }, async () => {
    const { url, times } = await listen((_res, _n, open) => open())
    const c = createClient({
      url,
      clientId: 'leaving',
      signingKeys: devSigningKeys,
      load: async (k: string) => k,
      reconnect: { baseMs: 1, capMs: 5 },
    })
    const events: string[] = []
    c.on('disconnected', (d) => events.push(d.reason))
    await c.start()
    await c.close()
    await new Promise((r) => setTimeout(r, 200))
    expect(events).toEqual([])
    expect(times).toHaveLength(1)
  })

  it('waits the retry delay a refusal names, not its own backoff', {
    timeout: 20_000,
  }, async () => {
    const { url, times } = await listen((res, n, open) => {
      if (n === 0) {
        res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '1' })
        res.end(
          JSON.stringify({ status: 503, code: 'E_OVERLOADED', title: 'busy', retryAfterMs: 700 }),
        )
      } else open()
    })
    client = createClient({
      url,
      clientId: 'told',
      signingKeys: devSigningKeys,
      load: async (k) => k,
      reconnect: { baseMs: 1, capMs: 5 },
    })
    await client.start()
    expect(times).toHaveLength(2)
    // 700 ms as told (plus up to 10 % jitter), not the 1-5 ms backoff.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(690)
  })

  it('reconnect() connects now, cutting short the wait a refusal named', {
    timeout: 20_000,
  }, async () => {
    // Issue 12, item 9: a refusal naming an hour kept the client away for the hour.
    const { url, times } = await listen((res, n, open) => {
      if (n === 0) {
        res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '3600' })
        res.end(JSON.stringify({ status: 503, code: 'E_OVERLOADED', title: 'busy' }))
      } else open()
    })
    const c = createClient({
      url,
      clientId: 'impatient',
      signingKeys: devSigningKeys,
      load: async (k: string) => k,
    })
    client = c
    const told: number[] = []
    c.on('disconnected', (d) => told.push(d.retryInMs))
    void c.start().catch(() => {})
    await waitFor('the refusal', () => told.length === 1, 10_000)
    expect(told[0]).toBeGreaterThanOrEqual(3_600_000)
    const at = Date.now()
    c.reconnect()
    await waitFor('connected again', () => c.connected, 5000)
    expect(times).toHaveLength(2)
    expect(times[1]! - at).toBeLessThan(1000)
  })

  it('never takes a Retry-After past what a timer holds for "now" (1.9e300 s)', {
    timeout: 20_000,
  }, async () => {
    // Node runs a timer over 2^31-1 ms at once: told 1.9e300 s, the client came back every ms.
    const { url, times } = await listen((res) => {
      res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '1.9e300' })
      res.end(JSON.stringify({ status: 503, code: 'E_OVERLOADED', title: 'busy' }))
    })
    const c = createClient({
      url,
      clientId: 'told-forever',
      signingKeys: devSigningKeys,
      load: async (k: string) => k,
    })
    client = c
    const told: number[] = []
    c.on('disconnected', (d) => told.push(d.retryInMs))
    void c.start().catch(() => {})
    await new Promise((r) => setTimeout(r, 1000))
    expect(times).toHaveLength(1)
    // At most an hour (plus its 10 % jitter).
    expect(told[0]).toBeLessThanOrEqual(3_600_000 * 1.1)
  })

  it('rejects start() on a refusal that will not change (401)', async () => {
    const { url } = await listen((res) => {
      res.writeHead(401, { 'content-type': 'application/problem+json' })
      res.end(JSON.stringify({ status: 401, code: 'E_UNAUTHORIZED', title: 'who?' }))
    })
    client = createClient({
      url,
      clientId: 'nobody',
      signingKeys: devSigningKeys,
      load: async (k) => k,
    })
    await expect(client.start()).rejects.toMatchObject({
      code: 'E_HTTP',
      status: 401,
      problemCode: 'E_UNAUTHORIZED',
    })
  })

  it('backs off with full jitter from base to cap, and resets after a long connection', () => {
    const b = new Backoff({ baseMs: 1000, capMs: 30_000, resetAfterMs: 60_000 }, () => 0.999999)
    const ceilings = Array.from({ length: 8 }, () => Math.round(b.next()))
    expect(ceilings).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000])
    b.connectedFor(59_000)
    expect(Math.round(b.next())).toBe(30_000)
    b.connectedFor(60_000)
    expect(Math.round(b.next())).toBe(1000)
    const low = new Backoff({ baseMs: 1000, capMs: 30_000, resetAfterMs: 60_000 }, () => 0)
    expect(low.next()).toBe(0)
  })
})

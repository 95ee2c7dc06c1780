/**
 * Whoever answers on the stream URL (a wrong URL, a proxy, a man in the
 * middle) cannot make an app server buffer without bound: a message over
 * `maxMessageBytes`, or a line that never ends, is refused as `oversized`
 * (counted in stats().rejected and, through heartbeats, in the coordinator's
 * metrics), the stream is cut and reconnected, and it resumes from the last
 * sequence number applied.
 *
 * Before (issue 12, item 7): the SDK read a 100 MB message whole (+528 MB
 * of memory) and an endless line for as long as it came (+727 MB).
 */
import { describe, expect, it } from 'vitest'
import type { SlewClient } from '../../src/sdk/index.js'
import {
  clients,
  closeAfterAll,
  metricValue,
  post,
  scrape,
  startCoordinator,
  testOrigin,
  waitFor,
} from '../helpers/coordinator.js'
import { startMitm } from '../helpers/mitm.js'

const closers = closeAfterAll()
const MiB = 1024 * 1024
/** Bytes a loopback socket pair and the HTTP layers may hold between a write and the reader. */
const IN_FLIGHT = 16 * MiB

const setup = async (opts: { maxMessageBytes?: number } = {}) => {
  const { co, url } = await startCoordinator({ confirmAbove: 1 })
  closers.push(() => co.close())
  const mitm = await startMitm(url)
  closers.push(() => mitm.close())
  const origin = testOrigin(0)
  const [client] = clients<string>(1, {
    url: mitm.url,
    load: origin.load,
    heartbeatMs: 60_000,
    reconnect: { baseMs: 50, capMs: 200 },
    ...opts,
  }) as [SlewClient<string>]
  closers.push(() => client.close())
  const disconnects: string[] = []
  client.on('disconnected', ({ reason }) => disconnects.push(reason))
  await client.start()
  await waitFor('the config snapshot', () => mitm.frames.some((f) => f.includes('event: config')))
  return { co, url, mitm, client, disconnects }
}

/** A genuine change after the attack is applied: the stream came back and resumed. */
const stillFollows = async (url: string, client: SlewClient<string>) => {
  const applied = client.stats().applied
  const res = await post(`${url}/v1/changes`, {
    kind: 'invalidate',
    target: { keys: ['a'] },
    waves: { steps: [1], bakeMs: 0 },
  })
  expect(res.status).toBe(202)
  await waitFor('the genuine change', () => client.stats().applied === applied + 1, 10_000)
}

describe('SDK stream limits', () => {
  it('cuts a 100 MB message at the default 32 MiB, counts it, reconnects and resumes', {
    timeout: 60_000,
  }, async () => {
    const { url, mitm, client, disconnects } = await setup()
    const seq = client.stats().lastSeq
    mitm.inject('app-0', 'event: change\ndata: {"v":1,"type":"change","pad":"')
    const written = await mitm.pour('app-0', 'x'.repeat(64 * 1024), 100 * 1000 * 1000)
    // The client hung up well before the 100 MB were through.
    expect(written).toBeLessThan(32 * MiB + IN_FLIGHT)
    await waitFor('the refusal', () => client.stats().rejected.oversized === 1)
    expect(disconnects.some((r) => /oversized|too large/.test(r))).toBe(true)
    expect(client.stats().lastSeq).toBe(seq)
    await waitFor('connected again', () => client.connected)
    await stillFollows(url, client)
    // Reported to the coordinator like any refusal.
    await client.heartbeat()
    expect(
      metricValue(await scrape(url), 'slew_client_rejected_messages_total', {
        reason: 'oversized',
      }),
    ).toBe(1)
  })

  it('cuts a line that never ends at maxMessageBytes, and a message of many lines over it', {
    timeout: 60_000,
  }, async () => {
    const { url, mitm, client } = await setup({ maxMessageBytes: MiB })
    // An endless line: no newline ever comes.
    mitm.inject('app-0', ': ')
    const endless = await mitm.pour('app-0', 'y'.repeat(16 * 1024))
    expect(endless).toBeLessThan(MiB + IN_FLIGHT)
    await waitFor('the first refusal', () => client.stats().rejected.oversized === 1)
    await waitFor('connected again', () => client.connected)
    // Short lines, one message: a data line after another, never the blank line that ends it.
    const many = await mitm.pour('app-0', `data: ${'z'.repeat(1000)}\n`)
    expect(many).toBeLessThan(MiB + IN_FLIGHT)
    await waitFor('the second refusal', () => client.stats().rejected.oversized === 2)
    await waitFor('connected again', () => client.connected)
    await stillFollows(url, client)
  })

  it('takes a message just under the limit', { timeout: 30_000 }, async () => {
    const { url, client } = await setup({ maxMessageBytes: 256 * 1024 })
    const keys = Array.from({ length: 10_000 }, (_, i) => `key-${i}`)
    expect(JSON.stringify(keys).length).toBeGreaterThan(100_000)
    const res = await post(`${url}/v1/changes`, {
      kind: 'invalidate',
      target: { keys },
      waves: { steps: [1], bakeMs: 0 },
    })
    expect(res.status).toBe(202)
    await waitFor('the change', () => client.stats().applied === 2, 10_000)
    expect(client.stats().rejected.oversized).toBeUndefined()
  })

  it('refuses a maxMessageBytes below 64 KiB or above 1 GiB', () => {
    const origin = testOrigin(0)
    for (const maxMessageBytes of [1000, 2 ** 31])
      expect(() =>
        clients<string>(1, { url: 'http://127.0.0.1:1', load: origin.load, maxMessageBytes }),
      ).toThrow(/maxMessageBytes/)
  })
})

describe('a wrong URL', () => {
  it('answering with an endless error page: the client reads 64 KiB of it, not the page', {
    timeout: 30_000,
  }, async () => {
    const { createServer } = await import('node:http')
    let written = 0
    const server = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' })
      const piece = Buffer.alloc(64 * 1024, 'x')
      const more = () => {
        while (!res.destroyed && written < 100 * 1000 * 1000) {
          written += piece.length
          if (!res.write(piece)) return void res.once('drain', more)
        }
        res.end()
      }
      more()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    closers.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections()
          server.close(() => r())
        }),
    )
    const port = (server.address() as { port: number }).port
    const [client] = clients<string>(1, {
      url: `http://127.0.0.1:${port}`,
      load: testOrigin(0).load,
      startTimeoutMs: 60_000,
    }) as [SlewClient<string>]
    closers.push(() => client.close())
    await expect(client.start()).rejects.toMatchObject({ status: 404 })
    expect(written).toBeLessThan(IN_FLIGHT)
  })
})

/**
 * Clients that stop reading their stream cannot fill the coordinator's
 * memory. Real coordinator, real sockets: raw SSE connections that send
 * their request and then never read (a frozen app server), beside one that
 * reads; large changes pushed until the kernel's buffers are full and the
 * coordinator's start to grow.
 *
 * - one stream over `stream.maxBufferedBytes` unsent is cut (reason slow);
 * - streams each under their own limit but together over
 *   `stream.maxBufferedTotalBytes` are cut, most unsent first, until the
 *   rest fit (reason total), and the coordinator says so;
 * - the client that reads is never cut and gets every change.
 */
import { connect, type Socket } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import {
  closeAfterAll,
  metricValue,
  openStream,
  post,
  scrape,
  startCoordinator,
  waitFor,
} from '../helpers/coordinator.js'

const MiB = 1024 * 1024
const closers = closeAfterAll()
const sockets: Socket[] = []
afterAll(() => {
  for (const s of sockets) s.destroy()
})

/** A stream whose client sends its request and never reads a byte of the answer. */
const frozen = (url: string, clientId: string) =>
  new Promise<void>((resolve, reject) => {
    const { port } = new URL(url)
    const socket = connect({ host: '127.0.0.1', port: Number(port) }, () => {
      socket.write(
        `GET /v1/stream?clientId=${clientId} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`,
      )
      resolve()
    })
    socket.pause()
    socket.on('error', () => {})
    socket.once('error', reject)
    sockets.push(socket)
  })

/** A keys-only invalidation whose frame is about `kb` KB (its keys), to every client. */
const bigChange = (i: number, kb: number) => ({
  kind: 'invalidate',
  target: {
    keys: Array.from(
      { length: kb * 16 },
      (_, k) => `change-${i}-key-${k}-padding-to-64-bytes-${'x'.repeat(24)}`,
    ),
  },
  confirm: true,
  reason: 'a test of clients that stop reading',
})

const setUp = async (
  stream: { maxBufferedBytes: number; maxBufferedTotalBytes: number },
  frozenCount: number,
) => {
  const notices: string[] = []
  const { co, url } = await startCoordinator(
    {
      stream,
      waves: { steps: [1], bakeMs: 0 },
      budgets: { invalidate: { ratePerSec: 1e9, burst: 1e9 } },
      limits: { bodyBytes: 16 * MiB },
      log: { maxEntries: 10_000, maxBytes: 1024 * MiB },
    },
    { log: (line) => notices.push(line) },
  )
  closers.push(() => co.close())
  const reader = await openStream(url, 'reader')
  closers.push(() => reader.close())
  for (let i = 0; i < frozenCount; i++) await frozen(url, `frozen-${i}`)
  await waitFor('every stream to be held', async () => {
    return metricValue(await scrape(url), 'slew_stream_connections') === frozenCount + 1
  })
  const cut = async (reason: string) =>
    metricValue(await scrape(url), 'slew_streams_cut_total', { reason }) ?? 0
  let pushed = 0
  /** Push changes of `kb` KB until `done` (at most `most`). */
  const pushUntil = async (kb: number, most: number, done: () => Promise<boolean>) => {
    while (!(await done())) {
      if (pushed >= most) throw new Error(`${pushed} changes pushed and still not done`)
      const res = await post(`${url}/v1/changes`, bigChange(pushed++, kb))
      expect(res.status).toBe(202)
      await res.arrayBuffer()
    }
  }
  return { url, reader, notices, cut, pushUntil, pushed: () => pushed }
}

describe('clients that stop reading', () => {
  it('cuts one stream holding more than stream.maxBufferedBytes unsent', {
    timeout: 60_000,
  }, async () => {
    const s = await setUp({ maxBufferedBytes: 2 * MiB, maxBufferedTotalBytes: 1024 * MiB }, 1)
    await s.pushUntil(256, 400, async () => (await s.cut('slow')) >= 1)
    const text = await scrape(s.url)
    expect(metricValue(text, 'slew_streams_cut_total', { reason: 'total' }) ?? 0).toBe(0)
    expect(metricValue(text, 'slew_stream_connections')).toBe(1)
    // The reader got every change, and was never cut.
    await waitFor(
      'the reader to get every change',
      () => s.reader.of('change').length === s.pushed(),
    )
  })

  it('cuts the slowest once all streams hold more than stream.maxBufferedTotalBytes', {
    timeout: 60_000,
  }, async () => {
    // Four streams fill alike: the total (8 MiB) is reached long before one stream's limit (6 MiB).
    const s = await setUp({ maxBufferedBytes: 6 * MiB, maxBufferedTotalBytes: 8 * MiB }, 4)
    await s.pushUntil(256, 400, async () => (await s.cut('total')) >= 1)
    const text = await scrape(s.url)
    expect(metricValue(text, 'slew_streams_cut_total', { reason: 'slow' }) ?? 0).toBe(0)
    // What is left fits.
    expect(metricValue(text, 'slew_stream_buffered_bytes')).toBeLessThanOrEqual(8 * MiB)
    const cut = metricValue(text, 'slew_streams_cut_total', { reason: 'total' })!
    expect(metricValue(text, 'slew_stream_connections')).toBe(5 - cut)
    expect(
      s.notices.some((n) =>
        /stream\(s\) cut: all streams held more than stream\.maxBufferedTotalBytes/.test(n),
      ),
    ).toBe(true)
    await waitFor(
      'the reader to get every change',
      () => s.reader.of('change').length === s.pushed(),
    )
  })

  it('refuses a total below one stream’s limit', async () => {
    const { validateConfig } = await import('../../src/config/check.js')
    const check = validateConfig(
      { stream: { maxBufferedBytes: 8 * MiB, maxBufferedTotalBytes: 4 * MiB } },
      {},
    )
    expect(check.issues).toMatchObject([
      { field: 'stream.maxBufferedTotalBytes', rule: 'at least stream.maxBufferedBytes' },
    ])
  })
})

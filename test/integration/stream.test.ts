/**
 * The stream, over raw SSE connections (no SDK): a `ping` every
 * `stream.pingMs` (15 s by default) to every connection, and each message
 * signed once however many clients receive it.
 */
import { describe, expect, it } from 'vitest'
import { verifyMessage } from '../../src/protocol/sign.js'
import { devSigningKeys } from '../../src/sdk/index.js'
import {
  closeAfterAll,
  metricValue,
  openStream,
  post,
  scrape,
  startCoordinator,
  waitFor,
} from '../helpers/coordinator.js'

const closers = closeAfterAll()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('ping', () => {
  it('defaults to every 15 s: none on a fresh stream within its first second', async () => {
    const { co, url } = await startCoordinator()
    closers.push(() => co.close())
    expect(co.config().stream.pingMs).toBe(15_000)
    const s = await openStream(url, 'quiet')
    closers.push(() => s.close())
    await waitFor('the config snapshot', () => s.of('config').length === 1)
    await sleep(1000)
    expect(s.of('ping')).toEqual([])
  })

  it('comes every stream.pingMs to every connection, without an id', async () => {
    const PING_MS = 100
    const { co, url } = await startCoordinator({ stream: { pingMs: PING_MS } })
    closers.push(() => co.close())
    const a = await openStream(url, 'ping-a')
    const b = await openStream(url, 'ping-b')
    closers.push(
      () => a.close(),
      () => b.close(),
    )
    expect(a.status).toBe(200)
    expect(a.headers.get('content-type')).toMatch(/^text\/event-stream/)
    // Within 2 s at 100 ms there are about 20; at least 5 each (a loaded machine runs timers late, never early).
    await waitFor(
      'five pings on each stream',
      () => a.of('ping').length >= 5 && b.of('ping').length >= 5,
      20 * PING_MS,
    )
    for (const s of [a, b]) {
      const pings = s.of('ping')
      for (const p of pings) {
        expect(p.id).toBeUndefined()
        expect(JSON.parse(p.data)).toEqual({ at: expect.any(Number) })
      }
    }
    // Pings alone never move a resume point: the only id seen is the config snapshot's.
    expect(a.events.filter((e) => e.id !== undefined).map((e) => e.event)).toEqual(['config'])
  })
})

describe('signing', () => {
  it('signs a change delivered to N clients once, not N times', { timeout: 30_000 }, async () => {
    const N = 40
    const { co, url } = await startCoordinator({
      budgets: { invalidate: { ratePerSec: 100_000, burst: 100_000 } },
    })
    closers.push(() => co.close())
    const streams = await Promise.all(
      Array.from({ length: N }, (_, i) => openStream(url, `signed-${i}`)),
    )
    closers.push(async () => {
      await Promise.all(streams.map((s) => s.close()))
    })
    expect(streams.map((s) => s.status)).toEqual(streams.map(() => 200))
    // Each new stream gets its own hello (signed for it: its nonce) and the config snapshot,
    // signed once for every new client while the config stays the same.
    await waitFor('every config snapshot', () => streams.every((s) => s.of('config').length === 1))
    expect(streams.every((s) => s.of('hello').length === 1)).toBe(true)
    const signed = async () => metricValue(await scrape(url), 'slew_events_signed_total')
    const delivered = async () =>
      metricValue(await scrape(url), 'slew_deliveries_total', { class: 'invalidate' }) ?? 0
    const signedBefore = await signed()
    expect(signedBefore).toBe(N + 1)
    const deliveredBefore = await delivered()

    const res = await post(`${url}/v1/changes`, {
      kind: 'invalidate',
      target: { keys: ['sku:1'] },
      waves: { steps: [1], bakeMs: 0 },
    })
    expect(res.status).toBe(202)
    await waitFor('the change at every client', () =>
      streams.every((s) => s.of('change').length === 1),
    )

    const changes = streams.map((s) => s.of('change')[0]!)
    const messages = new Set(changes.map((e) => e.id))
    // Every client got it, each delivery counted…
    expect((await delivered()) - deliveredBefore).toBe(N)
    // …but it was signed once per message (the log entries it went out as), not once per client.
    expect((await signed())! - signedBefore!).toBe(messages.size)
    expect(messages.size).toBeLessThanOrEqual(2)
    // The same signed bytes went to everyone who got the same message, and they verify.
    for (const id of messages) {
      const datas = new Set(changes.filter((e) => e.id === id).map((e) => e.data))
      expect(datas.size).toBe(1)
      const v = verifyMessage(JSON.parse([...datas][0]!), devSigningKeys)
      expect(v.ok).toBe(true)
    }
  })
})

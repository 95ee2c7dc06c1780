/**
 * Child process for the fan-out bench: one SSE server, either a real slew
 * coordinator (from dist/, as users run it) or the bare hono baseline
 * (`streamSSE` on @hono/node-server, one broadcast = one writeSSE per stream).
 *
 * argv: 'slew' | 'hono'
 * HTTP:    slew: GET /v1/stream, POST /v1/changes (the real routes)
 *          hono: GET /stream, POST /broadcast (reads the JSON body, broadcasts, 202)
 * IPC in:  { type: 'payload', data }   hono: the `data:` of each broadcast (a real slew frame's)
 *          { type: 'push', n, from }   in-process: n pushes, one per event-loop turn
 *          { type: 'streams' }
 * IPC out: { type: 'ready', port }, { type: 'pushed', startAt, endAt }, { type: 'streams', n }
 */
import type { AddressInfo } from 'node:net'
import { serve as serveHono } from '@hono/node-server'
import { Hono } from 'hono'
import { type SSEStreamingApi, streamSSE } from 'hono/streaming'
import { createCoordinator } from '../dist/index.js'
import { epochMs, serve } from './proc.js'

const kind = process.argv[2]
const turn = () => new Promise<void>((r) => setImmediate(r))

if (kind === 'slew') {
  const coordinator = createCoordinator({
    config: {
      admission: { ratePerSec: 1e6, burst: 1e6 },
      budgets: { invalidate: { ratePerSec: 1e9, burst: 1e9 } },
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    },
    log: () => {},
  })
  const { port } = await coordinator.listen({ host: '127.0.0.1', port: 0 })
  let streams = 0
  coordinator.events.on('admitted', () => streams++)
  serve(async (m) => {
    if (m.type === 'streams') return { type: 'streams', n: streams }
    if (m.type === 'push') {
      const n = Number(m.n)
      const from = Number(m.from)
      const startAt = epochMs()
      for (let i = 0; i < n; i++) {
        coordinator.engine.submit({ kind: 'invalidate', target: { keys: [`k${from + i}`] } })
        await turn()
      }
      return { type: 'pushed', startAt, endAt: epochMs() }
    }
    return undefined
  })
  process.send!({ type: 'ready', port })
} else if (kind === 'hono') {
  const streams = new Set<SSEStreamingApi>()
  let payload = ''
  let id = 0
  const broadcast = () => {
    const msg = { event: 'change', data: payload, id: String(++id) }
    for (const s of streams) void s.writeSSE(msg)
  }
  const app = new Hono()
  app.get('/stream', (c) =>
    streamSSE(c, async (s) => {
      streams.add(s)
      await new Promise<void>((resolve) => s.onAbort(resolve))
      streams.delete(s)
    }),
  )
  app.post('/broadcast', async (c) => {
    await c.req.json()
    broadcast()
    return c.json({ ok: true }, 202)
  })
  const server = serveHono({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', resolve))
  serve(async (m) => {
    if (m.type === 'streams') return { type: 'streams', n: streams.size }
    if (m.type === 'payload') {
      payload = String(m.data)
      return { type: 'payload' }
    }
    if (m.type === 'push') {
      const n = Number(m.n)
      const startAt = epochMs()
      for (let i = 0; i < n; i++) {
        broadcast()
        await turn()
      }
      return { type: 'pushed', startAt, endAt: epochMs() }
    }
    return undefined
  })
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port })
} else {
  throw new Error(`fanout-server: unknown kind ${kind}`)
}

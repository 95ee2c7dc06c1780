/**
 * Child process for the stream-memory bench: a server that holds SSE streams.
 *
 * argv: 'slew' | 'bare' | 'hono'
 *   slew: a real coordinator from dist/ (admission opened up so 10,000 can connect at once)
 *   bare: node:http, `res.writeHead(200, { 'content-type': 'text/event-stream' })`, headers
 *         flushed so the client sees them, the response kept open in a Set
 *   hono: hono's `streamSSE` on @hono/node-server, the stream kept in a Set (a reference point)
 * IPC in:  { type: 'mem' } (RSS and heap after a full GC), { type: 'streams' },
 *          { type: 'heapsnapshot', file } (for profiling: a full GC, then a V8 heap snapshot)
 * IPC out: { type: 'ready', port }
 */
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { writeHeapSnapshot } from 'node:v8'
import { serve as serveHono } from '@hono/node-server'
import { Hono } from 'hono'
import { type SSEStreamingApi, streamSSE } from 'hono/streaming'
import { createCoordinator } from '../dist/index.js'
import { serve, settledMemory } from './proc.js'

const kind = process.argv[2]
let streams: () => number
let port: number

if (kind === 'slew') {
  const coordinator = createCoordinator({
    config: { admission: { ratePerSec: 1e6, burst: 1e6 } },
    log: () => {},
  })
  port = (await coordinator.listen({ host: '127.0.0.1', port: 0 })).port
  // Streams open now: the engine's live clients (the hub's size is not public).
  streams = () => [...coordinator.engine.clients()].filter((c) => c.live).length
} else if (kind === 'bare') {
  const held = new Set<ServerResponse>()
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.flushHeaders()
    held.add(res)
    res.on('close', () => held.delete(res))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
  streams = () => held.size
} else if (kind === 'hono') {
  const held = new Set<SSEStreamingApi>()
  const app = new Hono()
  app.get('/', (c) =>
    streamSSE(c, async (s) => {
      held.add(s)
      await new Promise<void>((resolve) => s.onAbort(resolve))
      held.delete(s)
    }),
  )
  const server = serveHono({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', resolve))
  port = (server.address() as AddressInfo).port
  streams = () => held.size
} else {
  throw new Error(`stream-memory-server: unknown kind ${kind}`)
}

serve(async (m) => {
  if (m.type === 'mem') return { type: 'mem', ...(await settledMemory()) }
  if (m.type === 'streams') return { type: 'streams', n: streams() }
  if (m.type === 'heapsnapshot') {
    await settledMemory()
    return { type: 'heapsnapshot', file: writeHeapSnapshot(String(m.file)) }
  }
  return undefined
})
process.send!({ type: 'ready', port })

/**
 * Child process for the fleet-30k bench: one server, on 127.0.0.1.
 *
 * argv: 'slew' <config JSON> [port] [wait]
 *         a real coordinator from dist/ (memory store). With a port, it listens
 *         there (retrying while the port is still held: a restart); with
 *         'wait', it is made (modules loaded, JIT cold) but listens only when
 *         told `{ type: 'listen' }`, so a restart is the process being swapped,
 *         not Node's start-up time.
 *       'sse'   bare node:http SSE: `writeHead(200, text/event-stream)`,
 *               `flushHeaders()`, the response kept in a Set (the RSS baseline)
 *       'json'  bare hono on @hono/node-server: POST /v1/clients/:id/heartbeat
 *               parses the JSON body and answers `{ ok: true }` (the CPU baseline)
 * IPC in:  { type: 'mem' }      RSS and heap after a full GC
 *          { type: 'streams' }  streams held (slew: live clients in the engine)
 *          { type: 'count' }    heartbeats answered 200 so far
 *          { type: 'loop' }     event-loop delay since the last ask (p50, p99, max ms)
 *          { type: 'admissions' } slew: admitted / refused so far, per epoch second
 *          { type: 'listen' }   slew with 'wait': listen now
 *          { type: 'shutdown' } slew: shut down as on SIGTERM (goaway to every stream), exit
 *          { type: 'exit' }     exit (a --cpu-prof profile is written at exit)
 *          { type: 'heapsnapshot', file } (for profiling) a full GC, then a V8 heap snapshot
 *          { type: 'alloc-start' }, { type: 'alloc-stop', file }  (for profiling) what is
 *                               allocated between them, by V8's sampling heap profiler
 * IPC out: { type: 'ready', port? }, { type: 'listening', port, at }
 */
import { writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, Server, type ServerResponse } from 'node:http'
import { Session } from 'node:inspector'
import type { AddressInfo } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { writeHeapSnapshot } from 'node:v8'
import { serve as serveHono } from '@hono/node-server'
import { Hono } from 'hono'
import { createCoordinator } from '../dist/index.js'
import { epochMs, serve, settledMemory, sleep } from './proc.js'

const kind = process.argv[2]

// Heartbeats answered: every server here is a node:http Server, so count at its 'request' event.
let heartbeats = 0
const emit = Server.prototype.emit as (
  this: Server,
  event: string | symbol,
  ...args: unknown[]
) => boolean
Server.prototype.emit = function (this: Server, event: string | symbol, ...args: unknown[]) {
  if (event === 'request') {
    const [req, res] = args as [IncomingMessage, ServerResponse]
    if (req.method === 'POST' && req.url?.endsWith('/heartbeat'))
      res.once('finish', () => {
        if (res.statusCode === 200) heartbeats++
      })
  }
  return emit.call(this, event, ...args)
} as typeof Server.prototype.emit

const loop = monitorEventLoopDelay({ resolution: 5 })
loop.enable()
const loopDelay = () => {
  const ms = (ns: number) => ns / 1e6
  const out = {
    type: 'loop',
    p50: ms(loop.percentile(50)),
    p99: ms(loop.percentile(99)),
    max: ms(loop.max),
  }
  loop.reset()
  return out
}

/** For profiling: V8's sampling heap profiler, collected objects included (what is allocated). */
let session: Session | undefined
const post = (method: string, params?: object) =>
  new Promise<unknown>((resolve, reject) =>
    session!.post(method, params ?? {}, (error, result) =>
      error ? reject(error) : resolve(result),
    ),
  )

const common = async (m: { type: string } & Record<string, unknown>) => {
  if (m.type === 'alloc-start') {
    session = new Session()
    session.connect()
    await post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      // `live`: only what is still held when sampling stops; 'promoted': what outlived a scavenge.
      includeObjectsCollectedByMajorGC: !m.live || m.live === 'promoted',
      includeObjectsCollectedByMinorGC: !m.live,
    })
    return { type: 'alloc-start' }
  }
  if (m.type === 'alloc-stop') {
    const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: unknown }
    writeFileSync(String(m.file), JSON.stringify(profile))
    session?.disconnect()
    return { type: 'alloc-stop' }
  }
  if (m.type === 'heapsnapshot') {
    await settledMemory()
    return { type: 'heapsnapshot', file: writeHeapSnapshot(String(m.file)) }
  }
  if (m.type === 'count') return { type: 'count', n: heartbeats }
  if (m.type === 'loop') return loopDelay()
  // Exit on its own (a `--cpu-prof` profile is written at exit, not on SIGKILL).
  if (m.type === 'exit') process.exit(0)
  return undefined
}

if (kind === 'slew') {
  const config = JSON.parse(process.argv[3]!)
  const wantPort = Number(process.argv[4] ?? 0)
  const wait = process.argv[5] === 'wait'
  const coordinator = createCoordinator({ config, log: () => {} })
  let admitted = 0
  let refused = 0
  const admittedPerSec = new Map<number, number>()
  const refusedPerSec = new Map<number, number>()
  const bump = (m: Map<number, number>) => {
    const s = Math.floor(epochMs() / 1000)
    m.set(s, (m.get(s) ?? 0) + 1)
  }
  coordinator.events.on('admitted', () => {
    admitted++
    bump(admittedPerSec)
  })
  coordinator.events.on('refused', () => {
    refused++
    bump(refusedPerSec)
  })
  const listen = async () => {
    // A restart: the old process may still hold the port for a moment.
    for (let i = 0; ; i++) {
      try {
        const { port } = await coordinator.listen({ host: '127.0.0.1', port: wantPort })
        return { type: 'listening', port, at: epochMs() }
      } catch (error) {
        if (i > 500 || !String((error as Error).message).includes('in use')) throw error
        await sleep(10)
      }
    }
  }
  serve(async (m) => {
    if (m.type === 'mem') return { type: 'mem', ...(await settledMemory()) }
    if (m.type === 'streams') {
      let n = 0
      for (const c of coordinator.engine.clients()) if (c.live) n++
      return { type: 'streams', n }
    }
    if (m.type === 'admissions')
      return {
        type: 'admissions',
        admitted,
        refused,
        admittedPerSec: [...admittedPerSec],
        refusedPerSec: [...refusedPerSec],
      }
    if (m.type === 'listen') return listen()
    if (m.type === 'shutdown') {
      await coordinator.shutdown('bench restart')
      process.exit(0)
    }
    return common(m)
  })
  if (wait) process.send!({ type: 'ready' })
  else {
    const l = await listen()
    process.send!({ type: 'ready', port: l.port })
  }
} else if (kind === 'sse') {
  const held = new Set<ServerResponse>()
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.flushHeaders()
    held.add(res)
    res.on('close', () => held.delete(res))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', 4096, resolve))
  serve(async (m) => {
    if (m.type === 'mem') return { type: 'mem', ...(await settledMemory()) }
    if (m.type === 'streams') return { type: 'streams', n: held.size }
    return common(m)
  })
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port })
} else if (kind === 'json') {
  const app = new Hono()
  app.post('/v1/clients/:id/heartbeat', async (c) => {
    await c.req.json()
    return c.json({ ok: true })
  })
  const server = serveHono({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', resolve))
  serve(async (m) => {
    if (m.type === 'mem') return { type: 'mem', ...(await settledMemory()) }
    return common(m)
  })
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port })
} else {
  throw new Error(`fleet-30k-server: unknown kind ${kind}`)
}

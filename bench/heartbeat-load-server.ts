/**
 * Child process for the heartbeat-load bench: either a real slew coordinator
 * (memory store) or the bare baseline, both on 127.0.0.1:0.
 *
 * The coordinator is run from src/ (through tsx), not dist/: heartbeat
 * pacing (src/gates/pacing.ts) is newer than any build. Its config is
 * passed as a JSON argument (the bench states it in its report).
 *
 * argv: 'slew' <config JSON> | 'bare'
 *   slew: createCoordinator({ config }), the real routes (GET /v1/stream,
 *         POST /v1/clients/:id/heartbeat, POST /v1/changes, /metrics, …)
 *   bare: hono on @hono/node-server, POST /v1/clients/:id/heartbeat parses the
 *         JSON body and answers `{ ok: true }`; after { type: 'pace', share }
 *         it adds `heartbeatMs: 1000` for a fixed `share` of client ids (by
 *         hash), so the same load can be driven through it
 * IPC in:  { type: 'loop' } (event-loop delay p50/p99/max, ms, since the last ask),
 *          { type: 'served' } (time in the server per POST since the last ask: a histogram),
 *          { type: 'streams' } (slew: live clients the engine holds),
 *          { type: 'count' } (heartbeats answered so far),
 *          { type: 'pace', share } (bare only), { type: 'exit' } (slew: exit now)
 * IPC out: { type: 'ready', port, pingAt } (slew: when its ping timer started, epoch ms)
 */
import { type IncomingMessage, Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { serve as serveHono } from '@hono/node-server'
import { Hono } from 'hono'
import { createCoordinator } from '../src/index.js'
import { epochMs, serve } from './proc.js'

const kind = process.argv[2]

/**
 * Time in the server per POST: from its 'request' event (headers parsed) to
 * its response's 'finish' (all handed to the kernel), ms × 100 → count. Both
 * servers are node:http servers (@hono/node-server), so Server#emit is where
 * to look; the time a request waited to be read is not in it.
 */
let served = new Map<number, number>()
const emit = Server.prototype.emit as (
  this: Server,
  event: string | symbol,
  ...args: unknown[]
) => boolean
Server.prototype.emit = function (this: Server, event: string | symbol, ...args: unknown[]) {
  if (event === 'request') {
    const [req, res] = args as [IncomingMessage, ServerResponse]
    if (req.method === 'POST') {
      const t = performance.now()
      res.once('finish', () => {
        const b = Math.round((performance.now() - t) * 100)
        served.set(b, (served.get(b) ?? 0) + 1)
      })
    }
  }
  return emit.call(this, event, ...args)
} as typeof Server.prototype.emit
const takeServed = () => {
  const out = { type: 'served', hist: [...served] }
  served = new Map()
  return out
}

/** Event-loop delay (how long a ready callback, e.g. a request, waited), since the last `loop`. */
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

/** FNV-1a, 32 bits: a fixed rank in [0, 1) per client id. */
const rank = (s: string) => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0
  return h / 2 ** 32
}

if (kind === 'slew') {
  // Its stream hub starts its ping timer as it is made.
  const pingAt = epochMs()
  const coordinator = createCoordinator({ config: JSON.parse(process.argv[3]!), log: () => {} })
  const { port } = await coordinator.listen({ host: '127.0.0.1', port: 0 })
  serve((m) => {
    if (m.type === 'loop') return loopDelay()
    if (m.type === 'served') return takeServed()
    if (m.type === 'streams')
      return { type: 'streams', n: [...coordinator.engine.clients()].filter((c) => c.live).length }
    // Exit on its own (a `--cpu-prof` profile is written at exit, not on SIGKILL).
    if (m.type === 'exit') process.exit(0)
    return undefined
  })
  process.send!({ type: 'ready', port, pingAt })
} else if (kind === 'bare') {
  let count = 0
  let share = 0
  const app = new Hono()
  app.post('/v1/clients/:id/heartbeat', async (c) => {
    await c.req.json()
    count++
    return c.json(
      share > 0 && rank(c.req.param('id')) < share ? { ok: true, heartbeatMs: 1000 } : { ok: true },
    )
  })
  const server = serveHono({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', resolve))
  serve((m) => {
    if (m.type === 'loop') return loopDelay()
    if (m.type === 'served') return takeServed()
    if (m.type === 'count') return { type: 'count', n: count }
    if (m.type === 'pace') {
      share = Number(m.share)
      return { type: 'pace' }
    }
    return undefined
  })
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port })
} else {
  throw new Error(`heartbeat-load-server: unknown kind ${kind}`)
}

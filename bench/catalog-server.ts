/**
 * Child process for the catalog bench: one real coordinator from dist/
 * (memory store) on 127.0.0.1, a fresh process per mode.
 *
 * argv: <config JSON>
 * IPC in:  { type: 'cpu' }      CPU time so far, ms (proc.ts answers it)
 *          { type: 'streams' }  live clients in the engine
 *          { type: 'state' }    RSS, heap, rollouts still rolling, clients queued in them,
 *                               event-loop delay since the last ask (p50, p99, max ms)
 *          { type: 'exit' }     exit (a --cpu-prof profile is written at exit)
 * IPC out: { type: 'ready', port }
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createCoordinator } from '../dist/index.js'
import { serve } from './proc.js'

const config = JSON.parse(process.argv[2]!)
const coordinator = createCoordinator({ config, log: () => {} })
const loop = monitorEventLoopDelay({ resolution: 5 })
loop.enable()

serve((m) => {
  if (m.type === 'streams') {
    let n = 0
    for (const c of coordinator.engine.clients()) if (c.live) n++
    return { type: 'streams', n }
  }
  if (m.type === 'state') {
    let rolling = 0
    let queued = 0
    for (const r of coordinator.engine.list()) {
      if (r.state !== 'rolling') continue
      rolling++
      queued += r.queued
    }
    const mem = process.memoryUsage()
    const ms = (ns: number) => ns / 1e6
    const out = {
      type: 'state',
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      rolling,
      queued,
      loopP50: ms(loop.percentile(50)),
      loopP99: ms(loop.percentile(99)),
      loopMax: ms(loop.max),
    }
    loop.reset()
    return out
  }
  // Exit on its own (a `--cpu-prof` profile is written at exit, not on SIGKILL).
  if (m.type === 'exit') process.exit(0)
  return undefined
})

const { port } = await coordinator.listen({ host: '127.0.0.1', port: 0 })
process.send!({ type: 'ready', port })

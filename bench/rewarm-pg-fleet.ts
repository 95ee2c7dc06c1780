/**
 * Child process for the rewarm-pg bench: `count` app servers' worth of the
 * fleet, each a real SDK client (from dist/) whose `load` is the PostgreSQL
 * example's (examples/pg-origin.ts: one prepared primary-key query). The
 * clients of one process share one pg.Pool of `poolSize` connections (fifty
 * app servers with a pool each would pass the server's max_connections); an
 * origin call's latency includes its wait for a connection, as an app
 * server's would.
 *
 * Every origin call, whoever makes it, goes through `timed`: its start counted
 * per 10 ms, its latency per second of its end (0.1 ms buckets), so the bench
 * gets the origin's p99 per second and the busiest 1 s window. The event
 * loop's delay is recorded too (per second, its worst): a call's latency
 * measured in the app server includes it.
 *
 * Client j of process p is client `p × count + j` of the fleet; it caches
 * (and rewarms) products `keyOf(i)` for i in [g × keys, (g + 1) × keys).
 *
 * argv: databaseUrl processIndex count keysPerClient poolSize rows mode [profileDir]
 *   mode 'hotset': the clients start empty, their keys are their `hotKeys`
 *        'listed': the clients hold their keys (an old value, `set` before the push)
 * IPC in:  { type: 'capacity', concurrency, ms }  `concurrency` loops calling `load` on random
 *                                                 products for `ms` (no SDK): the origin alone
 *          { type: 'start', url }   start the clients against the coordinator at `url`, each
 *                                   heartbeating once, so the coordinator knows what it holds
 *          { type: 'fetched' }      since the last take: origin calls, failed ones, when the
 *                                   last ended, when each client took up a rewarm change
 *          { type: 'verify' }       keys not holding a row from the database
 *          { type: 'naive' }        every client fetches its keys as fast as it can: `CONCURRENCY`
 *                                   loops each, straight to `load` (no coordinator, no tokens)
 *          { type: 'take' }         what was recorded since the last take, then start over
 *          { type: 'stop' }         close the clients (the pool stays, for the naive run)
 *          { type: 'close' }        close the clients and the pool
 * IPC out: { type: 'ready' }, and a reply of the same type to each message
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import pg from 'pg'
import { createClient, devSigningKeys, type SlewClient } from '../dist/sdk/index.js'
import { type Product, productLoader } from '../examples/pg-origin.js'
import { epochMs, serve } from './proc.js'
import { keyOf } from './rewarm-pg-figures.js'

const [, , databaseUrl, indexArg, countArg, keysArg, poolArg, rowsArg, mode, profDir] = process.argv
const INDEX = Number(indexArg)
const COUNT = Number(countArg)
const KEYS = Number(keysArg)
const ROWS = Number(rowsArg)
/** The SDK's `refetch.concurrency` default: a naive client fetches as many at once. */
const CONCURRENCY = 8
const OLD = { id: 0, name: 'old', priceCents: 0, stock: 0, updatedAt: '' } satisfies Product

const pool = new pg.Pool({
  connectionString: databaseUrl,
  max: Number(poolArg),
  idleTimeoutMillis: 0,
})
const load = productLoader(pool)

const bump = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1)
/** Calls started per 10 ms bucket (epoch ms ÷ 10); latency (ms × 10) counts per epoch second of the end. */
let starts = new Map<number, number>()
let seconds = new Map<number, Map<number, number>>()
let calls = 0
let failed = 0
let lastEnd = 0
/** When each client took up a rewarm change (epoch ms): the waves, as the fleet saw them. */
let changedAt: number[] = []

/** The event loop's worst delay per epoch second, ms. */
let loopDelay = new Map<number, number>()
const eld = monitorEventLoopDelay({ resolution: 10 })
eld.enable()
setInterval(() => {
  loopDelay.set(Math.floor(epochMs() / 1000) - 1, eld.max / 1e6)
  eld.reset()
}, 1000).unref()

const timed = async (key: string): Promise<Product | null> => {
  const t0 = epochMs()
  bump(starts, Math.floor(t0 / 10))
  try {
    return await load(key)
  } catch (error) {
    failed++
    throw error
  } finally {
    const t1 = epochMs()
    const sec = Math.floor(t1 / 1000)
    const h = seconds.get(sec) ?? new Map<number, number>()
    seconds.set(sec, h)
    bump(h, Math.round((t1 - t0) * 10))
    calls++
    lastEnd = t1
  }
}

const globalIndex = (j: number) => INDEX * COUNT + j
const keysOf = (j: number) =>
  Array.from({ length: KEYS }, (_, i) => keyOf(globalIndex(j) * KEYS + i, ROWS))

let clients: SlewClient<Product | null>[] = []

const capacity = async (concurrency: number, ms: number) => {
  const until = epochMs() + ms
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (epochMs() < until) await timed(`product:${1 + Math.floor(Math.random() * ROWS)}`)
    }),
  )
}

/** With a profile folder: the CPU profile of the slew run (from `start` to `stop`), where the fleet's time goes. */
const profiler = profDir ? new Session() : undefined
const startProfile = async () => {
  if (!profiler) return
  profiler.connect()
  await profiler.post('Profiler.enable')
  await profiler.post('Profiler.start')
}
const stopProfile = async () => {
  if (!profiler) return
  const { profile } = await profiler.post('Profiler.stop')
  writeFileSync(join(profDir!, `fleet-${INDEX}.cpuprofile`), JSON.stringify(profile))
  profiler.disconnect()
}

const start = async (url: string) => {
  await startProfile()
  clients = Array.from({ length: COUNT }, (_, j) =>
    createClient<Product | null>({
      url,
      clientId: `pg-${globalIndex(j)}`,
      signingKeys: devSigningKeys,
      load: timed,
      cache: { max: KEYS },
      ...(mode === 'hotset' && { hotKeys: () => keysOf(j) }),
    }),
  )
  for (const c of clients) c.on('change', (ch) => ch.kind === 'rewarm' && changedAt.push(epochMs()))
  await Promise.all(clients.map((c) => c.start()))
  if (mode === 'listed')
    clients.forEach((c, j) => {
      for (const k of keysOf(j)) c.set(k, OLD)
    })
  await Promise.all(clients.map((c) => c.heartbeat()))
}

/** Keys not holding a row from the database, over every client of this process. */
const verify = () => {
  let stale = 0
  clients.forEach((c, j) => {
    for (const k of keysOf(j)) if (!(c.peek(k)?.id ?? 0)) stale++
  })
  return stale
}

const naive = async () => {
  await Promise.all(
    Array.from({ length: COUNT }, (_, j) => {
      const keys = keysOf(j)
      let next = 0
      return Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          // A failed load is counted (timed) and its key left stale, as a refetcher would.
          while (next < keys.length) await timed(keys[next++]!).catch(() => null)
        }),
      )
    }),
  )
  return epochMs()
}

const take = () => {
  const out = {
    type: 'take',
    starts: [...starts],
    seconds: [...seconds].map(([s, h]) => [s, [...h]]),
    loopDelay: [...loopDelay],
  }
  starts = new Map()
  seconds = new Map()
  loopDelay = new Map()
  calls = 0
  failed = 0
  lastEnd = 0
  changedAt = []
  return out
}

serve(async (m) => {
  switch (m.type) {
    case 'capacity':
      await capacity(Number(m.concurrency), Number(m.ms))
      return { type: 'capacity' }
    case 'start':
      await start(String(m.url))
      return { type: 'start' }
    case 'fetched':
      return { type: 'fetched', calls, failed, lastEnd, changedAt }
    case 'verify':
      return { type: 'verify', stale: verify(), held: clients.length * KEYS }
    case 'naive':
      return { type: 'naive', endAt: await naive() }
    case 'take':
      return take()
    case 'stop':
      await Promise.all(clients.map((c) => c.close()))
      await stopProfile()
      return { type: 'stop' }
    case 'close':
      await Promise.all(clients.map((c) => c.close()))
      await pool.end()
      return { type: 'close' }
  }
  return undefined
})
process.send!({ type: 'ready' })

/**
 * Child process for the convergence bench: `count` app servers, each a real
 * SDK client (from dist/) caching `entries` keys of its own from an origin in
 * this process (a value is `key#version`; a call takes `latencyMs`), and
 * reading them at a steady `rps` (uniform keys, Poisson arrivals): the demand
 * an app server keeps up while a push rolls.
 *
 * A client *serves the new value* once every key it holds would be answered
 * with the origin's current version (`peek`: fresh, or stale while its
 * refetch is queued, as `get` would answer at once). The bench asks when
 * that first held for each client, and when each took up the change.
 *
 * Client j of process p is `conv-<p × count + j>`.
 *
 * argv: processIndex count entries rps latencyMs [skew]
 * IPC in:  { type: 'start', url }  start the clients, fill every cache, heartbeat once each
 *          { type: 'bump', version } the origin's data changed: from now on `load` answers it
 *          { type: 'converged' }     per client: when it took up a change, when it first
 *                                    served only the new version (epoch ms; 0: not yet), and
 *                                    origin calls since the bump, by cause
 *          { type: 'close' }
 * IPC out: { type: 'ready' }, and a reply of the same type to each message
 */
import { createClient, devSigningKeys, type SlewClient } from '../dist/sdk/index.js'
import { epochMs, serve } from './proc.js'

const [, , indexArg, countArg, entriesArg, rpsArg, latencyArg, skewArg] = process.argv
const INDEX = Number(indexArg)
const COUNT = Number(countArg)
const ENTRIES = Number(entriesArg)
const RPS = Number(rpsArg)
const LATENCY_MS = Number(latencyArg)
/**
 * 0: every client holds `entries` keys; s > 0: client sizes spread as
 * `entries × (s + 1) × u^s` for u evenly spaced in (0, 1) (mean `entries`,
 * the largest s + 1 times it): a few app servers hold most of the cache.
 */
const SKEW = Number(skewArg ?? 0)

let version = 0
let bumpedAt = 0
let calls = 0
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
const load = async (key: string): Promise<string> => {
  const v = version
  if (bumpedAt > 0) calls++
  await sleep(LATENCY_MS)
  return `${key}#${v}`
}

const sizeOf = (j: number) => {
  if (SKEW <= 0) return ENTRIES
  // Evenly spaced over the fleet, so every process holds the same spread.
  const u = (j + 0.5) / COUNT
  return Math.max(1, Math.round(ENTRIES * (SKEW + 1) * u ** SKEW))
}
const keysOf = (j: number) => Array.from({ length: sizeOf(j) }, (_, i) => `c${INDEX}.${j}:k${i}`)

let clients: SlewClient<string>[] = []
let keys: string[][] = []
let changedAt: number[] = []
let servedAt: number[] = []
let reads = 0

/** Each client reads a random key of its own at RPS, exponential gaps. */
const demand = (j: number) => {
  const next = () => {
    const gap = (-Math.log(1 - Math.random()) * 1000) / RPS
    setTimeout(() => {
      if (clients.length === 0) return
      reads++
      const ks = keys[j]!
      clients[j]!.get(ks[Math.floor(Math.random() * ks.length)]!).catch(() => {})
      next()
    }, gap).unref()
  }
  next()
}

/** Every 10 ms: which clients that took up the change serve only the new version now. */
const watch = setInterval(() => {
  if (bumpedAt === 0) return
  const want = `#${version}`
  const now = epochMs()
  clients.forEach((c, j) => {
    if (servedAt[j]! > 0 || changedAt[j]! === 0) return
    if (keys[j]!.every((k) => c.peek(k)?.endsWith(want))) servedAt[j] = now
  })
}, 10)
watch.unref()

const start = async (url: string) => {
  keys = Array.from({ length: COUNT }, (_, j) => keysOf(j))
  changedAt = new Array(COUNT).fill(0)
  servedAt = new Array(COUNT).fill(0)
  clients = keys.map((_, j) =>
    createClient<string>({
      url,
      clientId: `conv-${INDEX * COUNT + j}`,
      signingKeys: devSigningKeys,
      load,
      cache: { max: keys[j]!.length * 2 },
    }),
  )
  for (const [j, c] of clients.entries()) {
    c.on('change', (ch) => {
      if (ch.kind === 'invalidate' && changedAt[j] === 0) changedAt[j] = epochMs()
    })
  }
  await Promise.all(clients.map((c) => c.start()))
  await Promise.all(clients.map((c, j) => Promise.all(keys[j]!.map((k) => c.get(k)))))
  await Promise.all(clients.map((c) => c.heartbeat()))
  for (let j = 0; j < clients.length; j++) demand(j)
}

serve(async (m) => {
  switch (m.type) {
    case 'start':
      await start(String(m.url))
      return { type: 'start' }
    case 'bump':
      version = Number(m.version)
      bumpedAt = epochMs()
      calls = 0
      reads = 0
      return { type: 'bump' }
    case 'converged':
      return { type: 'converged', changedAt, servedAt, calls, reads }
    case 'close': {
      const cs = clients
      clients = []
      await Promise.all(cs.map((c) => c.close()))
      return { type: 'close' }
    }
  }
  return undefined
})
process.send!({ type: 'ready' })
